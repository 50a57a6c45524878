// A module of its own: the anyformat emulator shares this list without pulling in the client's schemas.

/** The field types a workflow can extract. */
export const DATA_TYPES = [
  "string",
  "integer",
  "float",
  "date",
  "datetime",
  "boolean",
  "list",
  "object",
  "enum",
  "multi_select",
] as const;
export type DataType = (typeof DATA_TYPES)[number];
