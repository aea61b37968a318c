// CSV fields (server/domain/documents.ts): formula-looking text gets a leading apostrophe,
// in a list each item (issue 32 #9: a spreadsheet splitting `b;@sum(1+1)` on `;` ran it).
import { describe, expect, it } from 'vitest';
import { csvField } from '../server/domain/documents.ts';

describe('csvField', () => {
  it('escapes every item of a list, not only the start of the joined text', () => {
    expect(csvField(['b', '@sum(1+1)*cmd|x', '=1', 'ok'])).toBe("b;'@sum(1+1)*cmd|x;'=1;ok");
    expect(csvField(['-2+3', 'a,b'])).toBe(`"'-2+3;a,b"`);
  });
  it('escapes text, leaves numbers alone', () => {
    expect(csvField('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvField(-5)).toBe('-5');
    expect(csvField(null)).toBe('');
  });
});
