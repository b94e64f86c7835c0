/**
 * A list of values as named parameters (`:queue0, :queue1`): the Data API has no array
 * parameters, and an `IN (...)` of named parameters is read by the optimizer as one range each.
 * Returns the placeholder text for the SQL and the parameters to send with it.
 */
export function namedList(prefix: string, values: readonly string[]): { placeholders: string; params: Record<string, string> } {
  const params = Object.fromEntries(values.map((value, i) => [`${prefix}${i}`, value]));
  return {
    placeholders: Object.keys(params)
      .map((name) => `:${name}`)
      .join(', '),
    params,
  };
}
