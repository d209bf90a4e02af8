export { createFilesAdapter } from "./adapter";
export { createTarArchive, type ArchiveOptions, type ArchiveStats, type TarArchive } from "./archive";
export { extractTar, type ExtractOptions, type ExtractStats } from "./extract";
export { readFileIndex, type FileIndexEntry } from "./file-index";
export { filesRecipe } from "./recipe";
