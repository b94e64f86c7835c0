/** Every statement the queue runs, one function per operation. */
export { markHeldDone } from './markHeldDone.js';
export { cancelMessage } from './cancelMessage.js';
export { claimBatch, type ClaimBatchInput } from './claimBatch.js';
export { deadLetterHeld, type HeldDeadLetter } from './deadLetterHeld.js';
export {
  countDeadLettersNotOfTypes,
  deadLetterIds,
  listDeadLetters,
  purgeDeadLettersById,
  redriveDeadLetters,
  redriveDeadLettersById,
  selectDeadLetters,
  type DeadLetterSelection,
  type RedriveByIdInput,
  type RedriveInput,
} from './deadLetters.js';
export { deleteFinished, type DeleteFinishedInput } from './deleteFinished.js';
export { findByDedupKeys } from './findByDedupKeys.js';
export { getMessage, readMessageResult, type MessageOutputs, type MessageWithOutputs } from './getMessage.js';
export { storeHeldProgress } from './storeHeldProgress.js';
export { storeHeldResults, type HeldResult } from './storeHeldResults.js';
export { groupStats, type GroupStats } from './groupStats.js';
export type { HeldMessage } from './heldMessage.js';
export { insertMessages, type InsertResult, type NewMessage } from './insertMessages.js';
export { insertRecurringMessages, type RecurringMessage } from './insertRecurringMessages.js';
export { MESSAGE_STATUSES, type Message, type MessageStatus } from './message.js';
export { queueOverview, type QueueBacklog, type QueueOverview } from './queueOverview.js';
export { markPurgedSlots, purgeMarks } from './recurringPurges.js';
export { queueStats, type QueueStats } from './queueStats.js';
export { queueThroughput, type QueueThroughputInput, type ThroughputMinute } from './queueThroughput.js';
export { listPausedQueues, setQueuePaused } from './queueState.js';
export { readClaimedMessages, type ClaimedMessage, type ReadClaimedInput } from './readClaimedMessages.js';
export { releaseHeld, type HeldRelease } from './releaseHeld.js';
export { rescheduleHeld, type HeldRetry } from './rescheduleHeld.js';
export { claimWake, ensureQueueStates, extendDrainActivity, type ClaimWakeInput } from './drainActivity.js';
export { nextDueAt } from './nextDueAt.js';
export { insertPayloadParts, readPayloadText, type PayloadPart } from './payloadParts.js';
export { debounceWaiting } from './debounceWaiting.js';
export { deletePayloadParts } from './deletePayloadParts.js';
export { releaseExpiredDedupKey } from './releaseExpiredDedupKey.js';
export { releaseStartedDedupKey } from './releaseStartedDedupKey.js';
export { findDedupHolders, type DedupHolder } from './findDedupHolders.js';
export { extendHeldLeases } from './extendHeldLeases.js';
export { readHeldLeases } from './readHeldLeases.js';
export { extendRunPermits } from './extendRunPermits.js';
export { requestCancel } from './requestCancel.js';
export { readCancelRequests } from './readCancelRequests.js';
export { cancelHeld } from './cancelHeld.js';
