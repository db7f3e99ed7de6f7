// Short relative times, as people read them in a feed: "now", "3 min", "2 h",
// "5 d", then the date.
const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export function relativeTime(iso: string, now: Date = new Date()): string {
  const then = parseApiDate(iso);
  const seconds = Math.round((now.getTime() - then.getTime()) / 1000);
  if (seconds < 45) return "now";
  if (seconds < HOUR) return `${Math.max(1, Math.round(seconds / MINUTE))} min`;
  if (seconds < DAY) return `${Math.floor(seconds / HOUR)} h`;
  if (seconds < 7 * DAY) return `${Math.floor(seconds / DAY)} d`;
  const sameYear = then.getFullYear() === now.getFullYear();
  return (sameYear ? dayFormat : yearFormat).format(then);
}

// Formatters are costly to build: one each, shared by every post shown.
const dayFormat = new Intl.DateTimeFormat("en", {
  month: "short",
  day: "numeric",
});
const yearFormat = new Intl.DateTimeFormat("en", {
  month: "short",
  day: "numeric",
  year: "numeric",
});
const fullFormat = new Intl.DateTimeFormat("en", {
  dateStyle: "medium",
  timeStyle: "short",
});

export function fullTime(iso: string): string {
  return fullFormat.format(parseApiDate(iso));
}

// The API's datetimes are UTC; one without an offset must not be read as local time.
export function parseApiDate(iso: string): Date {
  const hasZone = /(Z|[+-]\d\d:?\d\d)$/i.test(iso);
  return new Date(hasZone ? iso : `${iso}Z`);
}
