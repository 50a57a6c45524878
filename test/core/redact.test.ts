import { describe, expect, it } from "vitest";
import { MASK, Redactor } from "../../src/core/redact.js";

const KEY = "sk-canary-7f3a9";
/** A key with the characters base64 keys carry, which URLs percent-encode. */
const B64_KEY = "sk+canary/7f3a9==";
const B64_ENCODED = "sk%2Bcanary%2F7f3a9%3D%3D";

const redactor = new Redactor([KEY, B64_KEY, undefined]);

describe("Redactor.url", () => {
  it("masks the api_key query parameter as api_key=***", () => {
    expect(redactor.url(`https://api.roboflow.com/acme?api_key=${KEY}`)).toBe("https://api.roboflow.com/acme?api_key=***");
  });

  it("masks an api_key it was never told about, by its name alone", () => {
    expect(new Redactor([]).url("https://api.roboflow.com/acme/proj?api_key=someone-elses-key&page=2")).toBe(
      "https://api.roboflow.com/acme/proj?api_key=***&page=2",
    );
  });

  it.each(["apikey", "key", "token", "access_token", "secret", "API_KEY", "Api_Key"])(
    "masks the %s parameter too, whatever its case",
    (name) => {
      expect(new Redactor([]).url(`https://h.test/x?${name}=abc123&keep=1`)).toBe(`https://h.test/x?${name}=***&keep=1`);
    },
  );

  it("masks a percent-encoded api_key value", () => {
    const out = redactor.url(`https://api.roboflow.com/acme?api_key=${B64_ENCODED}`);
    expect(out).toBe("https://api.roboflow.com/acme?api_key=***");
  });

  it("masks a percent-encoded parameter name", () => {
    expect(new Redactor([]).url("https://h.test/x?api%5Fkey=abc123")).toBe("https://h.test/x?api_key=***");
  });

  it("masks every repeat of the parameter", () => {
    const out = redactor.url(`https://h.test/x?api_key=${KEY}&api_key=other`);
    expect(out).not.toContain(KEY);
    expect(out).not.toContain("other");
  });

  it("masks the key where it appears elsewhere: path, another parameter, fragment", () => {
    const out = redactor.url(`https://h.test/keys/${KEY}/?q=${KEY}&api_key=${KEY}#${KEY}`);
    expect(out).toBe("https://h.test/keys/***/?q=***&api_key=***#***");
  });

  it("masks the key percent-encoded elsewhere in the URL", () => {
    const out = redactor.url(`https://h.test/files/${B64_ENCODED}/?q=${B64_ENCODED}`);
    expect(out).not.toContain(B64_ENCODED);
    expect(out).toBe("https://h.test/files/***/?q=***");
  });

  it("masks a key the query was re-encoded around (space as +, tilde escaped)", () => {
    const odd = new Redactor(["odd key~(1)!"]);
    const out = odd.url("https://h.test/x?q=odd key~(1)!&api_key=zzz");
    expect(out).not.toMatch(/odd/);
    expect(out).toBe("https://h.test/x?q=***&api_key=***");
  });

  it("masks the password of user info and keeps the user name", () => {
    expect(new Redactor([]).url("https://alice:hunter2@h.test/x")).toBe("https://alice:***@h.test/x");
  });

  it("masks a known key used as the user name", () => {
    expect(redactor.url(`https://${KEY}@h.test/x`)).toBe("https://***@h.test/x");
    expect(redactor.url(`https://${KEY}:${KEY}@h.test/x`)).toBe("https://***:***@h.test/x");
  });

  it("leaves a URL without secrets as it was", () => {
    expect(redactor.url("https://api.anyformat.ai/v2/workflows/?page=2&page_size=20")).toBe(
      "https://api.anyformat.ai/v2/workflows/?page=2&page_size=20",
    );
  });

  it("masks known keys in something that is not a URL at all", () => {
    expect(redactor.url(`not a url ${KEY}`)).toBe("not a url ***");
  });
});

describe("Redactor.headers", () => {
  it("masks Authorization to Bearer ***, keeping the scheme", () => {
    expect(redactor.headers({ authorization: `Bearer ${KEY}` })).toEqual({ authorization: "Bearer ***" });
    expect(new Redactor([]).headers({ Authorization: "Basic dXNlcjpwYXNz" })).toEqual({ Authorization: "Basic ***" });
  });

  it("masks a credential header with no scheme whole", () => {
    expect(new Redactor([]).headers({ "x-api-key": "abc123" })).toEqual({ "x-api-key": MASK });
    expect(new Redactor([]).headers({ authorization: "averyveryverylongtokenprefix rest" })).toEqual({ authorization: MASK });
  });

  it.each(["proxy-authorization", "cookie", "set-cookie", "x-api-key", "Cookie", "X-API-Key"])(
    "masks the %s header whatever its value",
    (name) => {
      const out = new Redactor([]).headers({ [name]: "session=abc123; Path=/" });
      expect(out[name]).not.toContain("abc123");
    },
  );

  it("masks a known key echoed in any other header, and leaves the rest alone", () => {
    expect(
      redactor.headers({
        "x-echo": `you sent ${KEY}`,
        location: `https://h.test/x?api_key=${KEY}`,
        "content-type": "application/json",
      }),
    ).toEqual({ "x-echo": "you sent ***", location: "https://h.test/x?api_key=***", "content-type": "application/json" });
  });

  it("returns a new plain object and leaves its input alone", () => {
    const input = { authorization: `Bearer ${KEY}` };
    const out = redactor.headers(input);
    expect(out).not.toBe(input);
    expect(input.authorization).toBe(`Bearer ${KEY}`);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
  });
});

describe("Redactor.value", () => {
  it("masks the key in every string of a deep JSON value", () => {
    const input = {
      error: `bad key ${KEY}`,
      detail: [{ type: "x", loc: ["query", KEY], msg: `got ${B64_KEY}` }],
      nested: { deeper: { list: [1, true, null, `${KEY}${KEY}`] } },
      count: 3,
    };
    expect(redactor.value(input)).toEqual({
      error: "bad key ***",
      detail: [{ type: "x", loc: ["query", "***"], msg: "got ***" }],
      nested: { deeper: { list: [1, true, null, "******"] } },
      count: 3,
    });
  });

  it("masks string values under secret-looking names, known key or not", () => {
    expect(new Redactor([]).value({ api_key: "whatever", nested: { token: "t0k3n", Secret: "s" }, key: 5 })).toEqual({
      api_key: MASK,
      nested: { token: MASK, Secret: MASK },
      key: 5,
    });
  });

  it("masks the key used as a property name", () => {
    const out = redactor.value({ [KEY]: "x", nested: { [`id-${KEY}`]: 1 } });
    expect(JSON.stringify(out)).not.toContain(KEY);
    expect(out).toEqual({ [MASK]: "x", nested: { [`id-${MASK}`]: 1 } });
  });

  it("passes through primitives and leaves its input alone", () => {
    expect(redactor.value(null)).toBeNull();
    expect(redactor.value(undefined)).toBeUndefined();
    expect(redactor.value(42)).toBe(42);
    expect(redactor.value(KEY)).toBe(MASK);
    const input = { a: [KEY] };
    redactor.value(input);
    expect(input.a[0]).toBe(KEY);
  });
});

describe("Redactor.text", () => {
  it("masks raw and percent-encoded forms", () => {
    expect(redactor.text(`Bearer ${KEY} and ${B64_ENCODED} and ${B64_KEY}`)).toBe("Bearer *** and *** and ***");
  });

  it("masks the longer of two overlapping secrets whole", () => {
    expect(new Redactor(["abcdef", "abcdefghi"]).text("x abcdefghi y abcdef")).toBe("x *** y ***");
  });

  it("ignores secrets too short to mask safely, and undefined ones", () => {
    expect(new Redactor(["ab", undefined, ""]).text("abc ab")).toBe("abc ab");
  });

  it("leaves text without secrets unchanged", () => {
    expect(redactor.text("nothing to see")).toBe("nothing to see");
  });
});
