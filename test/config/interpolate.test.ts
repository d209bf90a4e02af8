import { interpolate } from "../../src/config/interpolate";

describe("interpolate", () => {
  const env = { HOST: "db1", PORT: "5432", EMPTY: "" };

  it("substitutes ${NAME} anywhere in the text", () => {
    expect(interpolate("postgres://${HOST}:${PORT}/orders", env)).toEqual({
      text: "postgres://db1:5432/orders",
      substituted: true,
      variables: ["HOST", "PORT"],
      problems: [],
    });
  });

  it("uses the default of ${NAME:-default} when NAME is unset or empty, the value otherwise", () => {
    expect(interpolate("${MISSING:-redis://127.0.0.1:6379}", env).text).toBe("redis://127.0.0.1:6379");
    expect(interpolate("${EMPTY:-fallback}", env).text).toBe("fallback");
    expect(interpolate("${HOST:-fallback}", env).text).toBe("db1");
    // Only a variable whose value was used counts as one the text came from.
    expect(interpolate("${HOST:-fallback}", env).variables).toEqual(["HOST"]);
    expect(interpolate("${EMPTY:-fallback}", env).variables).toEqual([]);
    expect(interpolate("${MISSING:-}", env)).toEqual({
      text: "",
      substituted: true,
      variables: [],
      problems: [],
    });
  });

  it("reports a variable set to the empty string as it reports an unset one; a default says empty is meant", () => {
    expect(interpolate("[${EMPTY}]", env).problems).toEqual([
      {
        offset: 1,
        reference: "${EMPTY}",
        message:
          "environment variable EMPTY is set but empty: give it a value, or a default with ${EMPTY:-value} (${EMPTY:-} where empty is meant)",
      },
    ]);
    expect(interpolate("[${EMPTY:-}]", env)).toEqual({
      text: "[]",
      substituted: true,
      variables: [],
      problems: [],
    });
  });

  it("reports an unset variable without a default at the offset of its ${", () => {
    const result = interpolate("url: ${HOST}/${NOPE}", env);
    expect(result.problems).toEqual([
      {
        offset: 13,
        reference: "${NOPE}",
        message: "environment variable NOPE is not set: set it, or give a default with ${NOPE:-value}",
      },
    ]);
  });

  it("turns $${ into a literal ${ and leaves other dollars alone", () => {
    expect(interpolate("cost $5, literal $${HOME}, $$ and $", env)).toEqual({
      text: "cost $5, literal ${HOME}, $$ and $",
      substituted: false,
      variables: [],
      problems: [],
    });
    expect(interpolate("$${HOST}${HOST}", env).text).toBe("${HOST}db1");
  });

  it("reports malformed references", () => {
    expect(interpolate("${}", env).problems[0]?.message).toMatch(/bad variable reference "\$\{\}"/);
    expect(interpolate("${9LIVES}", env).problems[0]?.message).toMatch(/bad variable reference/);
    expect(interpolate("${HOST-default}", env).problems[0]?.message).toMatch(
      /write \$\{NAME\} or \$\{NAME:-default\}/,
    );
    expect(interpolate("abc ${HOST", env).problems).toEqual([
      {
        offset: 4,
        reference: "${HOST",
        message: "unterminated ${: close it with }, or write $${ for a literal ${",
      },
    ]);
  });

  it("takes the default literally up to the first }", () => {
    expect(interpolate("${NOPE:-a:b-c}/x}", env).text).toBe("a:b-c/x}");
  });
});
