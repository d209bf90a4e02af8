/**
 * The manual restore recipe of a files snapshot, written into its manifest: how to get the files back
 * with standard tools alone (age, zstd or gzip, tar) when Haven itself is not available.
 */
import { fetchSteps, plainStreamCommand, type RecipePayload } from "../recipe";

export function filesRecipe(payload: RecipePayload): string[] {
  return [
    ...fetchSteps(payload),
    "mkdir -p /restore/dir",
    `${plainStreamCommand(payload)} | tar -xpf - -C /restore/dir`,
  ];
}
