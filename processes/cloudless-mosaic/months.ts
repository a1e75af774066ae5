/** Scenes grouped by UTC calendar month of their acquisition time. */
export interface MonthGroup<T> {
  /** YYYY-MM */
  month: string;
  scenes: T[];
  /** First and last acquisition instants of the month (ISO 8601). */
  first: string;
  last: string;
}

export function groupByMonth<T>(scenes: T[], datetimeOf: (scene: T) => string): MonthGroup<T>[] {
  const groups = new Map<string, T[]>();
  for (const scene of scenes) {
    const month = new Date(datetimeOf(scene)).toISOString().slice(0, 7);
    groups.set(month, [...(groups.get(month) ?? []), scene]);
  }
  return [...groups.keys()].sort().map((month) => {
    const members = groups.get(month)!;
    const instants = members.map((scene) => new Date(datetimeOf(scene)).toISOString()).sort();
    return { month, scenes: members, first: instants[0], last: instants[instants.length - 1] };
  });
}
