/**
 * `${VAR}` substitution in config values, the way shells and docker compose do it:
 *
 * - `${NAME}` is the value of NAME; an unset NAME is an error, and so is one set to the empty string:
 *   an empty secret or host is almost always a deployment mistake (a variable exported from an unset
 *   one), and an unquoted value that comes out empty is left out of the config (yaml-source.ts), so
 *   a password would be dropped silently. Like compose's `${NAME:?}`;
 * - `${NAME:-default}` is the default when NAME is unset **or empty**; the default is taken literally
 *   up to the first `}` (no nesting). `${NAME:-}` is how a config says that empty is meant;
 * - `$${` is a literal `${`; any other `$` is kept as it is.
 *
 * Pure: works on one string and an environment, and reports problems by offset in that string so the
 * loader can point at the exact column in the YAML file.
 */

export interface InterpolationProblem {
  /** Offset of the offending `${` in the input string. */
  offset: number;
  /** The reference as written, e.g. `${PG_HOST}`. */
  reference: string;
  message: string;
}

export interface Interpolated {
  text: string;
  /** True when at least one `${...}` was replaced (an escaped `$${` alone does not count). */
  substituted: boolean;
  /** The variables whose values went into `text` (a default that was used instead does not count). */
  variables: string[];
  problems: InterpolationProblem[];
}

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DEFAULT_SEPARATOR = ":-";

/** Substitutes every `${...}` in `input` from `env`. Never throws; problems are returned. */
export function interpolate(input: string, env: NodeJS.ProcessEnv): Interpolated {
  const problems: InterpolationProblem[] = [];
  let text = "";
  let substituted = false;
  const variables: string[] = [];
  let index = 0;

  while (index < input.length) {
    const dollar = input.indexOf("$", index);
    if (dollar === -1) break;
    text += input.slice(index, dollar);

    if (input.startsWith("$${", dollar)) {
      text += "${";
      index = dollar + 3;
      continue;
    }
    if (!input.startsWith("${", dollar)) {
      text += "$";
      index = dollar + 1;
      continue;
    }

    const close = input.indexOf("}", dollar + 2);
    if (close === -1) {
      problems.push({
        offset: dollar,
        reference: input.slice(dollar),
        message: "unterminated ${: close it with }, or write $${ for a literal ${",
      });
      text += input.slice(dollar);
      index = input.length;
      break;
    }

    const reference = input.slice(dollar, close + 1);
    const resolved = resolveReference(input.slice(dollar + 2, close), env);
    if ("problem" in resolved) {
      problems.push({ offset: dollar, reference, message: resolved.problem });
      text += reference;
    } else {
      text += resolved.value;
      substituted = true;
      if (resolved.variable !== undefined) variables.push(resolved.variable);
    }
    index = close + 1;
  }

  text += input.slice(index);
  return { text, substituted, variables, problems };
}

/** The value of the body of one `${...}` and the variable it came from (none for a default), or why it has none. */
function resolveReference(
  body: string,
  env: NodeJS.ProcessEnv,
): { value: string; variable?: string } | { problem: string } {
  const separator = body.indexOf(DEFAULT_SEPARATOR);
  const name = separator === -1 ? body : body.slice(0, separator);
  if (!VARIABLE_NAME.test(name)) {
    return { problem: `bad variable reference "\${${body}}": write \${NAME} or \${NAME:-default}` };
  }

  const value = env[name];
  if (separator !== -1) {
    return value === undefined || value === ""
      ? { value: body.slice(separator + DEFAULT_SEPARATOR.length) }
      : { value, variable: name };
  }
  if (value === undefined) {
    return {
      problem: `environment variable ${name} is not set: set it, or give a default with \${${name}:-value}`,
    };
  }
  if (value === "") {
    return {
      problem: `environment variable ${name} is set but empty: give it a value, or a default with \${${name}:-value} (\${${name}:-} where empty is meant)`,
    };
  }
  return { value, variable: name };
}
