/**
 * Domain types of a loaded config: every target has its defaults filled in, durations are
 * milliseconds, secrets are `Secret`. Produced only by `loadConfig` (src/config/load.ts).
 */
import type {
  CompressionConfig,
  DestinationConfig,
  ParsedConfig,
  RawTargetConfig,
  RetentionPolicy,
  VerifyConfig,
} from "./schema";

type Resolved<T> = Omit<T, "destinations" | "retention" | "rpo" | "rto" | "compression" | "verify"> & {
  /** The key of this target under `targets:`. */
  name: string;
  destinations: string[];
  retention: RetentionPolicy;
  rpo: number;
  rto: number;
  compression: CompressionConfig;
  verify: VerifyConfig;
};

export type TargetConfig = RawTargetConfig extends infer T
  ? T extends unknown
    ? Resolved<T>
    : never
  : never;
export type TargetType = TargetConfig["type"];
export type TargetConfigOf<K extends TargetType> = Extract<TargetConfig, { type: K }>;

export type NamedDestination = DestinationConfig & { name: string };

export interface HavenConfig extends Omit<ParsedConfig, "targets" | "destinations"> {
  /** Absolute path of the file this config was read from ("<embedded>" for built-in configs). */
  source: string;
  /** sha256 of the file's bytes, for audit records of config reloads. */
  sha256: string;
  destinations: Record<string, NamedDestination>;
  targets: Record<string, TargetConfig>;
}

export type {
  CompressionConfig,
  DestinationConfig,
  RetentionPolicy,
  VerifyConfig,
  S3DestinationConfig,
  FilesystemDestinationConfig,
  CheckConfig,
  HooksConfig,
  AlertsConfig,
  EncryptionConfig,
  Tier,
  ScheduledTier,
} from "./schema";
