// A JSON file carries an enum as its value ("absolute", not ThresholdsMode.Absolute), so the
// schema's types are compared in their JSON form: string enums become their string values.
// Numeric enums stay as they are: a numeric literal is only assignable to one of their values.
export type JsonOf<T> = T extends string
  ? `${T}`
  : T extends ReadonlyArray<infer U>
    ? Array<JsonOf<U>>
    : T extends object
      ? { [K in keyof T]: JsonOf<T[K]> }
      : T;
