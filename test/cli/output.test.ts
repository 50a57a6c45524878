import { describe, expect, it } from "vitest";
import { errorPayload } from "../../src/cli/output.js";
import { ApiError, NotFoundError, ValidationError, type ApiErrorInit, type ValidationIssue } from "../../src/core/errors.js";

const base = { retryable: false, headers: {}, body: undefined } as const;

function notFound(message: string, detail: string | undefined): ApiError {
  return new NotFoundError({ ...base, status: 404, code: "NOT_FOUND", message, detail });
}

function invalid(message: string, issues: readonly ValidationIssue[]): ApiError {
  const init: ApiErrorInit = { ...base, status: 400, code: "VALIDATION_ERROR", message, detail: issues };
  return new ValidationError(init);
}

const ISSUES: ValidationIssue[] = [
  { type: "missing", loc: ["body", "name"], msg: "Field required" },
  { type: "missing", loc: ["body", "fields"], msg: "Field required" },
];

describe("the CLI's error message", () => {
  it("adds a detail the message does not carry, once", () => {
    expect(errorPayload(notFound("Project not found", "No project 'widgets' in workspace 'acme'.")).message).toBe(
      "Project not found: No project 'widgets' in workspace 'acme'.",
    );
  });

  it("does not repeat a detail the message already carries", () => {
    const message = "Resource not found: Workflow 'nope' not found.";
    expect(errorPayload(notFound(message, "Workflow 'nope' not found.")).message).toBe(message);
  });

  it("does not repeat a long detail that the message carries cut short", () => {
    const detail = `${"a long explanation ".repeat(40)}end`;
    const message = `Bad request: ${detail.slice(0, 280).trimEnd()}…`;
    expect(errorPayload(notFound(message, detail)).message).toBe(message);
  });

  it("does not repeat validation issues the message already names", () => {
    const message = "Validation failed: body.name: Field required; body.fields: Field required";
    expect(errorPayload(invalid(message, ISSUES)).message).toBe(message);
  });

  it("lists every validation issue as loc: msg when the message names none", () => {
    expect(errorPayload(invalid("Validation failed", ISSUES)).message).toBe(
      "Validation failed: body.name: Field required; body.fields: Field required",
    );
  });
});
