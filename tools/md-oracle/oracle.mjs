// Runs the official parser over crates/message-parser/tests/fixtures/corpus-NN.json and writes expected-NN.json
// (one md array per input, null where the parser throws), plus options.json (other option sets).
// `node oracle.mjs --bench` only times the parser over the corpus instead.
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { parse } from '@rocket.chat/message-parser';

if (process.env.TZ !== 'UTC') throw new Error('run with TZ=UTC: ISO timestamps without an offset are read as local time');
const dir = new URL('../../crates/message-parser/tests/fixtures/', import.meta.url);
const SERVER = { colors: true, emoticons: true, customDomains: [], katex: { dollarSyntax: false, parenthesisSyntax: true } };
const run = (input, options) => {
  try {
    return parse(input, options);
  } catch {
    return null;
  }
};
const files = readdirSync(dir).filter((f) => /^corpus-\d+\.json$/.test(f)).sort();
const corpus = files.map((f) => JSON.parse(readFileSync(new URL(f, dir), 'utf8')));

if (process.argv.includes('--bench')) {
  // The whole corpus, and its chat-sized messages (the long adversarial ones dominate the first).
  const time = (label, messages, rounds) => {
    for (const s of messages) run(s, SERVER);
    const t0 = process.hrtime.bigint();
    for (let r = 0; r < rounds; r++) for (const s of messages) run(s, SERVER);
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(`${label}: ${messages.length} messages x ${rounds} in ${secs.toFixed(2)} s = ${Math.round((messages.length * rounds) / secs)} messages/s`);
  };
  const all = corpus.flat();
  time('whole corpus', all, 3);
  time('messages under 3000 UTF-16 units', all.filter((s) => s.length < 3000), 10);
  process.exit(0);
}

files.forEach((f, i) => {
  const lines = corpus[i].map((s) => JSON.stringify(run(s, SERVER) ?? null));
  writeFileSync(new URL(f.replace('corpus', 'expected'), dir), `[\n${lines.join(',\n')}\n]\n`);
});

// A few inputs under the other option sets the server can send.
const optionSets = [
  {},
  { colors: false, emoticons: false },
  { customDomains: ['local', 'intranet'], katex: { dollarSyntax: true, parenthesisSyntax: false } },
  { ...SERVER, katex: { dollarSyntax: true, parenthesisSyntax: true } },
];
const optionInputs = ['see intranet.local/x', 'a.intranet b.local c.com', '$x^2$', '$$\nx\n$$', '\\(x\\) $y$', ':) hi', 'color:#fff',
  'hi :D there', '\\[x\\]', 'http://host.intranet/a', 'a@b.local', '$a$b$', '$$x$$ and $y$', 'a $ b', ':smile: :)', 'localhost.local'];
const cases = [];
for (const options of optionSets) for (const input of optionInputs) cases.push({ input, options, md: run(input, options) ?? null });
writeFileSync(new URL('options.json', dir), `[\n${cases.map((c) => JSON.stringify(c)).join(',\n')}\n]\n`);
console.log(`${corpus.flat().length} inputs in ${files.length} files, ${cases.length} option cases`);
