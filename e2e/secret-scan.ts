/** Shapes of secrets that must never reach a log line, whoever's they are. */
const SECRET_SHAPES = [/whsec_[A-Za-z0-9+/=]{8,}/, /mypay_(?:test|live|admin)_[A-Za-z0-9_]{8,}/];

/**
 * The log lines that leak a secret: any of `known` (keys and webhook secrets the test handed out)
 * or anything shaped like an API key or a `whsec_` secret. Returns them shortened for a failure message.
 */
export function leakedSecrets(lines: string[], known: string[]): string[] {
  const wanted = known.filter((s) => s.length >= 8);
  return lines
    .filter((line) => wanted.some((s) => line.includes(s)) || SECRET_SHAPES.some((shape) => shape.test(line)))
    .map((line) => line.slice(0, 300));
}
