// Locates the first syntax error of a JSON text as line:column. Node 20's JSON.parse messages give
// a position only for some errors ("Unexpected token '}', ... is not valid JSON" has none), and a
// person editing a config file needs the place. Only called after JSON.parse has failed.

export interface JsonSyntaxError {
  line: number;
  column: number;
  message: string;
}

class Stop extends Error {
  constructor(public at: number, message: string) {
    super(message);
  }
}

export function locateJsonError(text: string): JsonSyntaxError | undefined {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const what = (): string => (i >= text.length ? 'end of input' : JSON.stringify(text[i]));
  const expect = (c: string, context: string): void => {
    ws();
    if (text[i] !== c) throw new Stop(i, `expected "${c}" ${context}, found ${what()}`);
    i++;
  };
  const str = (): void => {
    i++; // opening quote
    while (i < text.length && text[i] !== '"') {
      const c = text.charCodeAt(i);
      if (c < 0x20) throw new Stop(i, 'control character in string (use \\n, \\t ...)');
      if (text[i] === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) throw new Stop(i, 'bad \\u escape');
          i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) throw new Stop(i, 'bad escape in string');
        i += 2;
        continue;
      }
      i++;
    }
    if (i >= text.length) throw new Stop(i, 'unterminated string');
    i++;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') { i++; return; }
      for (;;) {
        ws();
        if (text[i] !== '"') throw new Stop(i, `expected a double-quoted key, found ${what()}`);
        str();
        expect(':', 'after the key');
        value();
        ws();
        if (text[i] === ',') { i++; ws(); if (text[i] === '}') throw new Stop(i, 'trailing comma before "}"'); continue; }
        if (text[i] === '}') { i++; return; }
        throw new Stop(i, `expected "," or "}" after a value, found ${what()}`);
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') { i++; return; }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') { i++; ws(); if (text[i] === ']') throw new Stop(i, 'trailing comma before "]"'); continue; }
        if (text[i] === ']') { i++; return; }
        throw new Stop(i, `expected "," or "]" after a value, found ${what()}`);
      }
    }
    if (c === '"') return str();
    const lit = /^(true|false|null|-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?)/.exec(text.slice(i));
    if (!lit) throw new Stop(i, `expected a value, found ${what()}`);
    i += lit[0].length;
  };
  try {
    value();
    ws();
    if (i < text.length) throw new Stop(i, `unexpected ${what()} after the top-level value`);
    return undefined;
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    const before = text.slice(0, e.at);
    const line = before.split('\n').length;
    const column = e.at - (before.lastIndexOf('\n') + 1) + 1;
    return { line, column, message: e.message };
  }
}
