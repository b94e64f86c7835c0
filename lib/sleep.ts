/** Waits `ms` milliseconds: the one sleep (code that must be tested exactly takes a sleep as a parameter). */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
