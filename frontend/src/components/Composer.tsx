import { useId, useRef, useState, type FormEvent } from "react";
import { textLength } from "../lib/linkify";
import { ErrorAlert } from "./Alert";

export const MAX_POST_LENGTH = 500;

/** Characters left, announced politely as the limit nears. */
export function CharCounter({ text, id }: { text: string; id: string }) {
  const left = MAX_POST_LENGTH - textLength(text);
  const state = left < 0 ? "over" : left <= 20 ? "near" : "";
  return (
    <span
      id={id}
      className={`counter ${state}`}
      aria-live={left <= 20 ? "polite" : "off"}
    >
      {left < 0
        ? `${-left} ${-left === 1 ? "character" : "characters"} too many`
        : `${left} ${left === 1 ? "character" : "characters"} left`}
    </span>
  );
}

export function postTextProblem(text: string): string | null {
  const length = textLength(text);
  if (length === 0) return "Write something first.";
  if (length > MAX_POST_LENGTH)
    return `A post has at most ${MAX_POST_LENGTH} characters.`;
  return null;
}

/**
 * A text box with a counter and a submit button: new posts, replies and
 * edits. `label` names the text box, `action` the button.
 */
export function Composer({
  label,
  action,
  initial = "",
  placeholder,
  onSubmit,
  onCancel,
  autoFocus = false,
  pending,
  error,
}: {
  label: string;
  action: string;
  initial?: string;
  placeholder?: string;
  onSubmit: (text: string) => Promise<unknown>;
  onCancel?: () => void;
  autoFocus?: boolean;
  pending: boolean;
  error: unknown;
}) {
  const [text, setText] = useState(initial);
  const [problem, setProblem] = useState<string | null>(null);
  const counterId = useId();
  const boxId = useId();
  const box = useRef<HTMLTextAreaElement>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const found = postTextProblem(text);
    setProblem(found);
    if (found) {
      box.current?.focus();
      return;
    }
    try {
      await onSubmit(text.trim());
      if (!onCancel) setText("");
    } catch {
      // The error is shown from `error`; the text stays for another try.
    }
  }

  return (
    <form className="composer" onSubmit={submit} noValidate>
      <label htmlFor={boxId} className="visually-hidden">
        {label}
      </label>
      <textarea
        id={boxId}
        ref={box}
        value={text}
        placeholder={placeholder}
        rows={3}
        autoFocus={autoFocus}
        aria-describedby={counterId}
        aria-invalid={problem ? true : undefined}
        onChange={(event) => {
          setText(event.target.value);
          if (problem) setProblem(null);
        }}
        onKeyDown={(event) => {
          // Ctrl/Cmd+Enter sends, as in most chat and post boxes.
          if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
            event.currentTarget.form?.requestSubmit();
          }
          if (event.key === "Escape" && onCancel) onCancel();
        }}
      />
      <div className="composer-bar">
        <CharCounter text={text} id={counterId} />
        <span className="composer-actions">
          {onCancel && (
            <button type="button" className="secondary" onClick={onCancel}>
              Cancel
            </button>
          )}
          <button
            type="submit"
            disabled={pending || textLength(text) > MAX_POST_LENGTH}
          >
            {action}
          </button>
        </span>
      </div>
      {problem && (
        <p role="alert" className="alert">
          {problem}
        </p>
      )}
      <ErrorAlert error={error} />
    </form>
  );
}
