/**
 * A small reader for an OpenAPI 3.0 document: resolves `$ref`, merges
 * `allOf`, builds example values from the `example` fields, and validates
 * JSON values against a schema. The validator covers what Amber's spec uses:
 * type, required, properties, items, enum, nullable, allOf, oneOf with a
 * discriminator, string formats date and date-time, and length and number
 * bounds. Additional properties are allowed, as OpenAPI allows by default.
 */
import { readFileSync } from "node:fs";

export type Schema = Record<string, unknown>;

/** An object schema with its allOf parts merged. */
export interface FlatSchema {
  properties: Record<string, Schema>;
  required: string[];
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME =
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export class OpenApiDocument {
  readonly document: Schema;

  constructor(document: Schema) {
    this.document = document;
  }

  /** Reads a document from a JSON file. */
  static load(path: string): OpenApiDocument {
    return new OpenApiDocument(
      JSON.parse(readFileSync(path, "utf8")) as Schema,
    );
  }

  /** Names of `components.schemas`. */
  componentNames(): string[] {
    return Object.keys(this.#componentSchemas());
  }

  /** Returns the component schema `name`. */
  component(name: string): Schema {
    const schema = this.#componentSchemas()[name];
    if (!isObject(schema)) {
      throw new Error(`OpenAPI component ${name} not found`);
    }
    return schema;
  }

  /** Lists every operation as [path, method, operationId, 200 response schema]. */
  operations(): Array<{
    path: string;
    method: string;
    operationId: string;
    schema: Schema;
  }> {
    const result = [];
    const paths = this.document["paths"];
    for (const [path, item] of Object.entries(isObject(paths) ? paths : {})) {
      for (const [method, operation] of Object.entries(
        isObject(item) ? item : {},
      )) {
        const schema = dig(operation, [
          "responses",
          "200",
          "content",
          "application/json",
          "schema",
        ]);
        const operationId = dig(operation, ["operationId"]);
        if (isObject(schema) && typeof operationId === "string") {
          result.push({ path, method, operationId, schema });
        }
      }
    }
    return result;
  }

  /** Follows `$ref` until a schema without one. */
  resolve(schema: Schema): Schema {
    let current = schema;
    for (let depth = 0; typeof current["$ref"] === "string"; depth += 1) {
      const ref = current["$ref"];
      const prefix = "#/components/schemas/";
      if (!ref.startsWith(prefix) || depth > 20) {
        throw new Error(`unsupported $ref ${ref}`);
      }
      current = this.component(ref.slice(prefix.length));
    }
    return current;
  }

  /** Merges an object schema and its allOf parts: properties (later parts win) and required. */
  flatten(schema: Schema): FlatSchema {
    const resolved = this.resolve(schema);
    const flat: FlatSchema = { properties: {}, required: [] };
    for (const part of asSchemas(resolved["allOf"])) {
      const inner = this.flatten(part);
      Object.assign(flat.properties, inner.properties);
      flat.required.push(...inner.required);
    }
    const properties = resolved["properties"];
    if (isObject(properties)) {
      for (const [name, property] of Object.entries(properties)) {
        if (isObject(property)) {
          flat.properties[name] = property;
        }
      }
    }
    if (Array.isArray(resolved["required"])) {
      flat.required.push(
        ...resolved["required"].filter((name) => typeof name === "string"),
      );
    }
    flat.required = [...new Set(flat.required)];
    return flat;
  }

  /** Returns the enum of a property schema, looking through $ref and allOf. */
  enumOf(schema: Schema): unknown[] | undefined {
    const resolved = this.resolve(schema);
    if (Array.isArray(resolved["enum"])) {
      return resolved["enum"];
    }
    for (const part of asSchemas(resolved["allOf"])) {
      const values = this.enumOf(part);
      if (values !== undefined) {
        return values;
      }
    }
    return undefined;
  }

  /** Returns the JSON type of a property schema, looking through $ref and allOf. */
  typeOf(schema: Schema): string | undefined {
    const resolved = this.resolve(schema);
    if (typeof resolved["type"] === "string") {
      return resolved["type"];
    }
    if (isObject(resolved["properties"])) {
      return "object";
    }
    for (const part of asSchemas(resolved["allOf"])) {
      const type = this.typeOf(part);
      if (type !== undefined) {
        return type;
      }
    }
    return undefined;
  }

  /**
   * Builds an example value: the schema's `example` where present, else the
   * first enum value, else a value of the right type, with every property of
   * an object filled in.
   */
  example(schema: Schema): unknown {
    const resolved = this.resolve(schema);
    if ("example" in resolved) {
      return resolved["example"];
    }
    if (Array.isArray(resolved["enum"]) && resolved["enum"].length > 0) {
      return resolved["enum"][0];
    }
    const oneOf = asSchemas(resolved["oneOf"]);
    if (oneOf[0] !== undefined) {
      return this.example(oneOf[0]);
    }

    const type = this.typeOf(resolved);
    if (type === "object") {
      const flat = this.flatten(resolved);
      return Object.fromEntries(
        Object.entries(flat.properties).map(([name, property]) => [
          name,
          this.example(property),
        ]),
      );
    }
    const allOf = asSchemas(resolved["allOf"]);
    if (allOf.length === 1 && allOf[0] !== undefined) {
      return this.example(allOf[0]);
    }
    switch (type) {
      case "array":
        return isObject(resolved["items"])
          ? [this.example(resolved["items"])]
          : [];
      case "string":
        return resolved["format"] === "date" ? "2021-05-05" : "text";
      case "integer":
      case "number":
        return typeof resolved["minimum"] === "number"
          ? resolved["minimum"]
          : 1;
      case "boolean":
        return true;
      default:
        return null;
    }
  }

  /** Validates `value` against `schema`; returns one message per problem, empty when valid. */
  validate(schema: Schema, value: unknown, path = "$"): string[] {
    if (value === null) {
      return schema["nullable"] === true ||
        this.resolve(schema)["nullable"] === true
        ? []
        : [`${path}: null is not allowed`];
    }
    const resolved = this.resolve(schema);
    const problems: string[] = [];

    for (const part of asSchemas(resolved["allOf"])) {
      problems.push(...this.validate(part, value, path));
    }
    const oneOf = asSchemas(resolved["oneOf"]);
    if (oneOf.length > 0) {
      problems.push(...this.#validateOneOf(resolved, oneOf, value, path));
    }
    if (Array.isArray(resolved["enum"]) && !resolved["enum"].includes(value)) {
      problems.push(
        `${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(resolved["enum"])}`,
      );
    }

    const type =
      typeof resolved["type"] === "string"
        ? resolved["type"]
        : isObject(resolved["properties"]) ||
            Array.isArray(resolved["required"])
          ? "object"
          : undefined;
    switch (type) {
      case "object":
        problems.push(...this.#validateObject(resolved, value, path));
        break;
      case "array":
        if (!Array.isArray(value)) {
          problems.push(`${path}: expected an array`);
        } else if (isObject(resolved["items"])) {
          const items = resolved["items"];
          value.forEach((item, index) => {
            problems.push(...this.validate(items, item, `${path}[${index}]`));
          });
        }
        break;
      case "string":
        problems.push(...validateString(resolved, value, path));
        break;
      case "number":
      case "integer":
        problems.push(...validateNumber(resolved, type, value, path));
        break;
      case "boolean":
        if (typeof value !== "boolean") {
          problems.push(`${path}: expected a boolean`);
        }
        break;
    }
    return problems;
  }

  #validateObject(schema: Schema, value: unknown, path: string): string[] {
    if (!isObject(value)) {
      return [`${path}: expected an object`];
    }
    const problems: string[] = [];
    const required = Array.isArray(schema["required"])
      ? schema["required"]
      : [];
    for (const name of required) {
      if (typeof name === "string" && !(name in value)) {
        problems.push(`${path}.${name}: missing`);
      }
    }
    const properties = isObject(schema["properties"])
      ? schema["properties"]
      : {};
    for (const [name, property] of Object.entries(properties)) {
      if (name in value && isObject(property)) {
        problems.push(
          ...this.validate(property, value[name], `${path}.${name}`),
        );
      }
    }
    return problems;
  }

  #validateOneOf(
    schema: Schema,
    options: Schema[],
    value: unknown,
    path: string,
  ): string[] {
    const discriminator = schema["discriminator"];
    if (
      isObject(discriminator) &&
      typeof discriminator["propertyName"] === "string"
    ) {
      const tag = isObject(value)
        ? value[discriminator["propertyName"]]
        : undefined;
      const mapping = isObject(discriminator["mapping"])
        ? discriminator["mapping"]
        : {};
      const target = typeof tag === "string" ? mapping[tag] : undefined;
      if (typeof target !== "string") {
        return [
          `${path}.${discriminator["propertyName"]}: ${JSON.stringify(tag)} matches no mapping`,
        ];
      }
      return this.validate({ $ref: target }, value, path);
    }
    const matches = options.filter(
      (option) => this.validate(option, value, path).length === 0,
    );
    return matches.length === 1
      ? []
      : [`${path}: matches ${matches.length} of oneOf, expected 1`];
  }

  #componentSchemas(): Record<string, unknown> {
    const schemas = dig(this.document, ["components", "schemas"]);
    return isObject(schemas) ? schemas : {};
  }
}

function validateString(
  schema: Schema,
  value: unknown,
  path: string,
): string[] {
  if (typeof value !== "string") {
    return [`${path}: expected a string`];
  }
  const problems: string[] = [];
  if (schema["format"] === "date" && !DATE.test(value)) {
    problems.push(`${path}: ${value} is not an ISO date`);
  }
  if (
    schema["format"] === "date-time" &&
    !(DATE_TIME.test(value) && Number.isFinite(Date.parse(value)))
  ) {
    problems.push(`${path}: ${value} is not an ISO date-time`);
  }
  if (
    typeof schema["minLength"] === "number" &&
    value.length < schema["minLength"]
  ) {
    problems.push(`${path}: shorter than ${schema["minLength"]}`);
  }
  if (
    typeof schema["maxLength"] === "number" &&
    value.length > schema["maxLength"]
  ) {
    problems.push(`${path}: longer than ${schema["maxLength"]}`);
  }
  return problems;
}

function validateNumber(
  schema: Schema,
  type: string,
  value: unknown,
  path: string,
): string[] {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    return [`${path}: expected a number`];
  }
  const problems: string[] = [];
  if (type === "integer" && !Number.isInteger(value)) {
    problems.push(`${path}: ${value} is not an integer`);
  }
  if (typeof schema["minimum"] === "number" && value < schema["minimum"]) {
    problems.push(`${path}: ${value} is below ${schema["minimum"]}`);
  }
  if (typeof schema["maximum"] === "number" && value > schema["maximum"]) {
    problems.push(`${path}: ${value} is above ${schema["maximum"]}`);
  }
  return problems;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function asSchemas(value: unknown): Schema[] {
  return Array.isArray(value) ? value.filter(isObject) : [];
}

function dig(value: unknown, keys: string[]): unknown {
  let current = value;
  for (const key of keys) {
    if (!isObject(current)) {
      return undefined;
    }
    current = current[key];
  }
  return current;
}
