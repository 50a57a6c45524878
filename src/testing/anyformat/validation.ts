import { isRecord, type ValidationIssue } from "./responses.js";
import { DATA_TYPES } from "../../anyformat/data-types.js";
import { WEBHOOK_EVENT_TYPES } from "../../anyformat/webhook-event.js";
import type { AnyformatDataType, AnyformatFieldRecord } from "./state.js";

/**
 * Request-body validation in anyformat's (pydantic's) words: every problem found is reported at once,
 * each with the `loc` path that leads to it, so a client can show the whole list.
 */

type Loc = ReadonlyArray<string | number>;

const missing = (loc: Loc): ValidationIssue => ({ type: "missing", loc, msg: "Field required" });
const stringType = (loc: Loc): ValidationIssue => ({ type: "string_type", loc, msg: "Input should be a valid string" });
const listType = (loc: Loc): ValidationIssue => ({ type: "list_type", loc, msg: "Input should be a valid list" });
const tooShortString = (loc: Loc): ValidationIssue => ({
  type: "string_too_short",
  loc,
  msg: "String should have at least 1 character",
});
const tooShortList = (loc: Loc): ValidationIssue => ({
  type: "too_short",
  loc,
  msg: "List should have at least 1 item after validation, not 0",
});
const objectType = (loc: Loc): ValidationIssue => ({
  type: "model_attributes_type",
  loc,
  msg: "Input should be a valid dictionary or object to extract fields from",
});

/** A required non-empty string, or the issue with it. */
function requiredString(body: Record<string, unknown>, key: string, loc: Loc, issues: ValidationIssue[]): string | undefined {
  const value = body[key];
  if (value === undefined) issues.push(missing([...loc, key]));
  else if (typeof value !== "string") issues.push(stringType([...loc, key]));
  else if (value.trim() === "") issues.push(tooShortString([...loc, key]));
  else return value;
  return undefined;
}

/** `POST /v2/workflows/`'s body checked: the record to store, or every issue found. */
export function validateWorkflow(body: unknown): { name: string; description: string | null; fields: AnyformatFieldRecord[] } | ValidationIssue[] {
  if (body === undefined) return [missing(["body"])];
  if (!isRecord(body)) return [objectType(["body"])];
  const issues: ValidationIssue[] = [];
  const name = requiredString(body, "name", ["body"], issues);
  const description = body["description"];
  if (description !== undefined && description !== null && typeof description !== "string") {
    issues.push(stringType(["body", "description"]));
  }
  const fields = validateFields(body["fields"], ["body", "fields"], issues);
  if (issues.length > 0 || name === undefined || fields === undefined) return issues;
  return { name, description: typeof description === "string" ? description : null, fields };
}

function validateFields(value: unknown, loc: Loc, issues: ValidationIssue[]): AnyformatFieldRecord[] | undefined {
  if (value === undefined) {
    issues.push(missing(loc));
    return undefined;
  }
  if (!Array.isArray(value)) {
    issues.push(listType(loc));
    return undefined;
  }
  if (value.length === 0) {
    issues.push(tooShortList(loc));
    return undefined;
  }
  const before = issues.length;
  const fields = value.map((item, index) => validateField(item, [...loc, index], issues));
  const seen = new Set<string>();
  fields.forEach((field, index) => {
    if (field === undefined) return;
    // Results are keyed by field name, so two fields of one name could not both be answered.
    if (seen.has(field.name)) {
      issues.push({ type: "value_error", loc: [...loc, index, "name"], msg: `Value error, duplicate field name '${field.name}'` });
    }
    seen.add(field.name);
  });
  return issues.length > before ? undefined : (fields as AnyformatFieldRecord[]);
}

function validateField(value: unknown, loc: Loc, issues: ValidationIssue[]): AnyformatFieldRecord | undefined {
  if (!isRecord(value)) {
    issues.push(objectType(loc));
    return undefined;
  }
  const before = issues.length;
  const name = requiredString(value, "name", loc, issues);
  const description = value["description"];
  if (description !== undefined && description !== null && typeof description !== "string") {
    issues.push(stringType([...loc, "description"]));
  }
  const rawType = value["data_type"];
  let dataType: AnyformatDataType | undefined;
  if (rawType === undefined) issues.push(missing([...loc, "data_type"]));
  else if (typeof rawType !== "string" || !(DATA_TYPES as readonly string[]).includes(rawType)) {
    issues.push({
      type: "enum",
      loc: [...loc, "data_type"],
      msg: `Input should be ${DATA_TYPES.slice(0, -1).map((t) => `'${t}'`).join(", ")} or '${DATA_TYPES.at(-1)}'`,
    });
  } else dataType = rawType as AnyformatDataType;

  let enumOptions: string[] | undefined;
  const options = value["enum_options"];
  if (dataType === "enum" || dataType === "multi_select") {
    if (options === undefined || options === null) {
      issues.push({
        type: "value_error",
        loc: [...loc, "enum_options"],
        msg: `Value error, enum_options is required for data_type '${dataType}'`,
      });
    } else enumOptions = validateOptions(options, [...loc, "enum_options"], issues);
  } else if (options !== undefined && options !== null) {
    enumOptions = validateOptions(options, [...loc, "enum_options"], issues);
  }

  let nested: AnyformatFieldRecord[] | undefined;
  const nestedValue = value["nested_fields"];
  if (dataType === "object" && (nestedValue === undefined || nestedValue === null)) {
    issues.push({
      type: "value_error",
      loc: [...loc, "nested_fields"],
      msg: "Value error, nested_fields is required for data_type 'object'",
    });
  } else if (nestedValue !== undefined && nestedValue !== null) {
    nested = validateFields(nestedValue, [...loc, "nested_fields"], issues);
  }

  if (issues.length > before || name === undefined || dataType === undefined) return undefined;
  const field: AnyformatFieldRecord = { name, description: typeof description === "string" ? description : "", data_type: dataType };
  if (enumOptions !== undefined) field.enum_options = enumOptions;
  if (nested !== undefined) field.nested_fields = nested;
  return field;
}

function validateOptions(value: unknown, loc: Loc, issues: ValidationIssue[]): string[] | undefined {
  if (!Array.isArray(value)) {
    issues.push(listType(loc));
    return undefined;
  }
  if (value.length === 0) {
    issues.push(tooShortList(loc));
    return undefined;
  }
  const before = issues.length;
  value.forEach((option, index) => {
    if (typeof option !== "string") issues.push(stringType([...loc, index]));
  });
  return issues.length > before ? undefined : (value as string[]);
}

const WEBHOOK_EVENTS = WEBHOOK_EVENT_TYPES;
const MAX_URL_LENGTH = 2083;

/** `POST /v2/webhooks/`'s body checked: the url and events to store, or every issue found. */
export function validateWebhook(body: unknown): { url: string; events: string[] } | ValidationIssue[] {
  if (body === undefined) return [missing(["body"])];
  if (!isRecord(body)) return [objectType(["body"])];
  const issues: ValidationIssue[] = [];
  const url = body["url"];
  const loc = ["body", "url"];
  if (url === undefined) issues.push(missing(loc));
  else if (typeof url !== "string") issues.push(stringType(loc));
  else if (url.length === 0) issues.push({ type: "url_parsing", loc, msg: "Input should be a valid URL, input is empty" });
  else if (url.length > MAX_URL_LENGTH) {
    issues.push({ type: "url_too_long", loc, msg: `URL should have at most ${MAX_URL_LENGTH} characters` });
  } else if (!URL.canParse(url)) {
    issues.push({ type: "url_parsing", loc, msg: "Input should be a valid URL, relative URL without a base" });
  } else if (!deliverable(new URL(url))) {
    issues.push({ type: "url_scheme", loc, msg: "URL scheme should be 'https'" });
  }

  const rawEvents = body["events"];
  let events: string[] = [...WEBHOOK_EVENTS];
  if (rawEvents !== undefined && rawEvents !== null) {
    if (!Array.isArray(rawEvents)) issues.push(listType(["body", "events"]));
    else {
      rawEvents.forEach((event, index) => {
        if (typeof event !== "string" || !(WEBHOOK_EVENTS as readonly string[]).includes(event)) {
          issues.push({
            type: "literal_error",
            loc: ["body", "events", index],
            msg: `Input should be '${WEBHOOK_EVENTS[0]}' or '${WEBHOOK_EVENTS[1]}'`,
          });
        }
      });
      events = rawEvents as string[];
    }
  }
  if (issues.length > 0 || typeof url !== "string") return issues;
  return { url, events };
}

/**
 * anyformat takes only https webhook URLs. The emulator also takes plain http to a loopback host
 * (`localhost`, `127.x.x.x`, `[::1]`), so that a test's own receiver can get its deliveries.
 */
function deliverable(url: URL): boolean {
  if (url.protocol === "https:") return true;
  if (url.protocol !== "http:") return false;
  const host = url.hostname;
  return host === "localhost" || host === "[::1]" || /^127(\.\d{1,3}){3}$/.test(host);
}
