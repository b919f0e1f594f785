// How the SDK reports errors nobody can catch: a subscription handler that threw, a coalesced
// write sent from a timer, a main loop that failed while running in the background.

/** `context` says where it happened ("handler for sensors/#", "coalesced publish to x", ...). */
export type ErrorHandler = (error: unknown, context: string) => void;

export const defaultErrorHandler: ErrorHandler = (error, context) => {
  console.error(`tagwire: ${context}:`, error);
};

/** Calls `onError`, and falls back to console.error if the hook itself throws. */
export function report(onError: ErrorHandler, error: unknown, context: string): void {
  try {
    onError(error, context);
  } catch (hookError) {
    console.error(`tagwire: ${context}:`, error, "(and the onError hook threw:", hookError, ")");
  }
}
