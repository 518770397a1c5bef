/** The fixed set of reactions: unicode emoji (no image from anywhere), each with a name for screen readers. */
export const REACTIONS = [
  { kind: 'like', emoji: '👍', label: 'Like' },
  { kind: 'love', emoji: '❤️', label: 'Love' },
  { kind: 'laugh', emoji: '😄', label: 'Funny' },
  { kind: 'insightful', emoji: '💡', label: 'Insightful' },
  { kind: 'thanks', emoji: '🙏', label: 'Thank you' },
] as const;

export type ReactionKind = (typeof REACTIONS)[number]['kind'];

export function isReactionKind(value: string): value is ReactionKind {
  return REACTIONS.some((r) => r.kind === value);
}
