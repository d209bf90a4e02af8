/**
 * resvg draws text only with a font it can load. It scans the system's font directories, but a slim
 * container may have none: the files below are looked for explicitly, so that a missing font is
 * noticed (and logged) instead of producing charts without labels. Debian: fonts-dejavu-core.
 */
import { existsSync } from "node:fs";

/** Looked for in this order; the first family found is the charts' font. */
const CANDIDATES: ReadonlyArray<{ file: string; family: string }> = [
  { file: "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", family: "DejaVu Sans" },
  { file: "/usr/share/fonts/TTF/DejaVuSans.ttf", family: "DejaVu Sans" },
  { file: "/usr/share/fonts/dejavu/DejaVuSans.ttf", family: "DejaVu Sans" },
  { file: "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf", family: "Liberation Sans" },
  { file: "/usr/share/fonts/truetype/freefont/FreeSans.ttf", family: "FreeSans" },
];

export interface ChartFont {
  /** Font files found (passed to resvg on top of the system scan). */
  files: string[];
  /** The family resvg falls back to. */
  defaultFamily: string;
  /** The CSS font-family list written into the charts. */
  family: string;
  /** Where fonts were looked for, for the warning when none is found. */
  looked: string[];
}

let cached: ChartFont | undefined;

export function chartFont(): ChartFont {
  if (cached) return cached;
  const found = CANDIDATES.filter((c) => existsSync(c.file));
  const defaultFamily = found[0]?.family ?? "DejaVu Sans";
  cached = {
    files: found.map((c) => c.file),
    defaultFamily,
    family: `${defaultFamily}, sans-serif`,
    looked: CANDIDATES.map((c) => c.file),
  };
  return cached;
}
