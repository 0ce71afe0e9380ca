// Writes crates/message-parser/tests/fixtures/corpus-NN.json: the inputs the oracle runs (deterministic, seeded).
import { writeFileSync, readdirSync, unlinkSync } from 'node:fs';

const out = new URL('../../crates/message-parser/tests/fixtures/', import.meta.url);
let seed = 0x5eed1234;
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const int = (n) => Math.floor(rand() * n);

// Every input of clients.md §1.
const spec = [
  'fsfs', 'hello **bold** world', '*bold single star*', '_italic_ text', '~strike~ text', '~~double strike~~',
  'inline `code` here', '```\nlet x = 1;\n```', '```js\nconsole.log(1)\n```', 'hi @rocket.cat and @all',
  'see #general please', 'visit https://rocket.chat/docs?a=1 now', 'www.google.com', 'mail me at foo@bar.com',
  '[label](https://example.com)', ':smile:', 'hello :smile: there', '😀', '> quoted text', '- item one\n- item two',
  '1. first\n2. second', '- [ ] todo\n- [x] done', '# Heading 1', '## Heading 2', 'line one\nline two', 'para1\n\npara2',
  'héllo wörld ünïcödé 中文 русский', 'color:#ff0000', ':)', '<t:1717171717:R>', '||spoiler||', '', '   ', 'hi :) there',
  '$x^2$', '\\(x^2\\)', 'see intranet.local/x', '**bold _and italic_**', 'line one\r\nline two', '```\nunterminated',
  'a\\*b\\*c', '+55 11 99999-9999', 'go to https://www.google.com.', '> a\n>\n> b', '0. zero\n1. one',
  '[a](https://x.com) [b] [c](https://y.com)', 'https://en.wikipedia.org/wiki/Foo_(bar)', '<t:2024-01-01T10:00:00Z>',
  '**bold:)**',
];

// Hand-written edge cases, by node type.
const edges = [
  // paragraphs, line breaks, CR handling
  'a', ' a', 'a ', '\n', '\n\n', '\r', '\r\n', 'a\n\nb', 'a\n \nb', 'a\r\rb', '\t', ' \n ', 'a\n\n\n\nb', 'x\u2028y',
  // headings
  '#', '# ', '#a', '# a', '#### four', '##### five', '#\tTab', '# **bold** head', '## :smile: x', '# a\n## b', '### @user #chan',
  // quotes
  '>', '> ', '>a', '> a\n> b', '> a\nb', '>> nested', '> **b** _i_', '> a\n>\n>', '>\t tab', '> - item',
  // code blocks
  '```', '``````', '```\n```', '```\n\n```', '```\na\n\nb\n```', '```py\nx = 1\n```', '```c++ x\nint a;\n```', '```\na`b``c\n```',
  '```\na\n```\nafter', '```\na\n```b', '```\r\na\r\n```', '```\na\r\nb\n```', 'text ```\ncode\n```', '```\n`\n```',
  '```\n``\n```', '```js\n\n```', '```\n  indented\n```', '```\n***\n```',
  // horizontal rules
  '---', '----', '--', ' --- ', '---\nafter', 'before\n---', '--- x', '\t---\t', '- - -', '***',
  // tables
  '| a | b |\n| --- | --- |\n| 1 | 2 |', '|a|b|\n|:-|-:|\n|1|2|', '|a|\n|:-:|', '| a |\n|---|\n| 1 | 2 | 3 |', '| a | b |\n|---|---|\n| 1 |',
  '|a \\| b|\n|---|', '| **x** | `y` |\n| - | - |', '|a|\n|-|\n|b|\ntext', '| a |', '|a|b|\n|x|y|', '| :smile: | @u |\n|---|---|\n| #c | https://x.com |',
  // tasks and lists
  '- [x] done', '- [ ] open', '- [X] upper', '- [] none', '- [x]no space', '- a', '-a', '- ', '* a\n* b', '* a\n- b', '- a\n* b', '* **x**',
  '* a*', '* a *b*', '1. a', '1.a', '10. ten\n11. eleven', '1. a\n- b', '007. seven', '1) a', '- [x] a\n- b', '- a\n\n- b', '+ a',
  // emphasis
  '*a*', '**a**', '***a***', '*a', 'a*', '* *', '** **', '*a **b** c*', '_a_', '__a__', '___a___', '_a', 'a_', 'snake_case_name', '__init__',
  'a_b_c', '_a_b', '__a__b', '_a_bc', '~a~', '~~a~~', '~a', '~ ~', '~~ ~~', '_ _', '*_a_*', '_*a*_', '~_*a*_~', '*~a~*', '**_~a~_**',
  '*a\nb*', '_a\nb_', '*a* *b*', '**a* b', '*a**', 'x*y*z', 'x_y_z', '*:)*', '_:)_', '~:)~', '*:smile:*', '* a', 'a * b * c',
  '*@user*', '_#chan_', '~https://x.com~', '*`code`*', '_[l](https://x.com)_', '**[l](https://x.com)**', '*a _b* c_',
  // spoilers
  '||a||', '|| a ||', '||a', '|a|', '||**b**||', '||\nsecret\n||', '||\na\nb\n||', '||\n||', '||||', '|| ||', '||a|| ||b||', '||a\nb||',
  // inline code
  '`a`', '``', '`a', '`a`b`', '` `', '`**x**`', '`a\nb`', '``a``', 'x`y`z',
  // links
  '[a](https://x.com)', '[](https://x.com)', '[a](x.com)', '[a](https://x.com/(b))', '[a](https://x.com "t")', '[a] (https://x.com)',
  '[a](https://x.com', '[**b**](https://x.com)', '[a b](https://x.com)', '[a](https://x.com).', '[a](mailto:x@y.com)', '[a](+5511999999999)',
  '<https://x.com|label>', '<https://x.com|>', '<x.com|lbl>', '<https://x.com>', '![](https://x.com/a.png)', '![alt](https://x.com/a.png)',
  '![a', '[a]', '[[a]](https://x.com)', '[a](https://x.com)[b](https://y.com)', '[a](ftp://x.com)', '[a](foo:bar)', '[\n](https://x.com)',
  // autolinks
  'https://x.com', 'http://x.com/a?b=c#d', 'x.com', 'x.local', 'x.co.uk', 'sub.x.io/path', 'https://x.com.', 'https://x.com,', 'https://x.com!',
  '(https://x.com)', 'https://x.com/a_(b)', 'http://localhost:3000', 'localhost', 'localhost:3000/x', 'http://192.168.0.1', '192.168.0.1',
  '10.0.0.1:8080', 'https://user:pass@x.com', 'HTTPS://X.COM', 'www.x.com', 'www.x', 'ftp://files.x.org', 'x.com/a.b', 'a.b', 'v1.2.3',
  'file.txt', 'https://x.com/?q=1&r=2', 'https://x.com/#/route', 'https://x.com:8443/a', 'https://münchen.de', 'xn--mnchen-3ya.de',
  'example.com:80', 'https://github.com', 'github.io', 'x.github.io', 'mail.google.com', 'https://x.com/a~b', 'https://x.com/*a*',
  '_x.com', '_x.com_', 'a.b.c.d.e', 'test.invalid', 'x.blogspot.com', 'foo.bar', 'foo.zip', 'https://a.b', 'ws://x.com', 'x.com:abc',
  // emails
  'a@b.com', 'a.b@c.org', 'a+b@c.io', 'mailto:a@b.com', 'a@b', 'a@b.local', '@b.com', 'a@.com', 'a@b.c', 'ü@x.de', 'a@localhost',
  'a_b@c.com', 'first.last@sub.domain.co.uk', 'x@y.com.', 'a@b.com,c@d.com',
  // phones
  '+5511999999999', '+55 11 99999-9999', '+1-555', '+(55)11-9999', '+123', '+1234', '+12345', '+(1)2345', '+55-', '+ 55', '++55555',
  // mentions and channels
  '@a', '@all', '@here', '@a.b', '@a-b_c', '@a__', '@a_', '@@a', 'a@b', '@a:b', '@a@b', '@ü', '@', '#a', '#', '#a.b', '#a-b', 'a#b', '##a',
  '#1', '@user!', '@user.', '(@user)', '#chan,', 'x #a #b', '@a #b @c', '@José', '#日本',
  // emoji, emoticons, big emoji
  ':a:', ':+1:', ':-1:', ':a_b:', '::', ':a', 'a:b:c', ':smile::smile:', ':smile: :smile:', ':smile: :smile: :smile:',
  ':smile: :smile: :smile: :smile:', 'x:smile:', ':smile:x', '😀😀', '😀 😀 😀', '😀 😀 😀 😀', 'a😀', '👍🏽', '👨‍👩‍👧', '🇧🇷', '❤️', '❤',
  '✅', '⌚', '#️⃣', '1️⃣', '©️', '🏴󠁧󠁢󠁳󠁣󠁴󠁿', '☺', '🙂🙃', ':)', ':-)', ':D', ';)', '<3', '</3', ':(', ':P', ':p', 'D:', 'XD', '-_-', '-__-',
  '-_-x', '(y)', '\\0/', '\\O\\/', '*\\0/*', 'O:)', '0:)', '>:(', ":')", "':)", '8)', 'B)', '=)', ':/', ':\\', ':-.', 'a:)', ':)a',
  ':) :)', ':):)', ':) x', 'x :) y', '**:)**', '*:)', ':)*', '_:)_x', ':-_-:', '-_-_-', '😀 :)', ':) 😀', '\n:)\n', ' :smile: ',
  // colors
  'color:#fff', 'color:#ffff', 'color:#ff0000', 'color:#ff000080', 'color:#ff00001', 'color:#ggg', 'color:#12', 'color:#fffg',
  'xcolor:#fff', 'color:#fff.', 'color:#FFF', 'color:#fff x',
  // katex
  '\\[x\\]', '\\[x', '\\[\nx\n\\]', '\\(x\\)', '\\(x', '\\(a\\)\\(b\\)', 'a \\(x\\) b', '$$x$$', '$x$', '\\(x\ny\\)', '\\[a\\]b',
  // timestamps
  '<t:1717171717>', '<t:1717171717:t>', '<t:1717171717:F>', '<t:1717171717:x>', '<t:171717171>', '<t:17171717171>',
  '<t:2025-07-22T10:00:00.000Z>', '<t:2025-07-22T10:00:00.000+02:00:R>', '<t:2025-07-22T10:00:00>', '<t:2025-07-22T10:00:00+05:30:d>',
  '<t:2025-13-40T99:99:99>', '<t:2025-02-30T10:00:00>', '<t:2100-01-01T00:00:00>', '\\<t:1717171717:R>', '\\<t:1717171717>',
  'at <t:1717171717:R> ok', '*<t:1717171717>*', '~<t:1717171717>~', '<t:abc>',
  // escapes
  '\\*a\\*', '\\_a\\_', '\\~', '\\`', '\\#', '\\.', '\\a', '\\\\', '\\', 'a\\', '\\[', '\\<',
  // mixed
  '**bold** _it_ ~st~ `c` @u #c :smile: https://x.com a@b.com +5511999999999',
  '> **q** [l](https://x.com)\n- a\n- b\n\n```\nc\n```', 'Hello @team, see https://jira.x.com/browse/ABC-123 :)',
];

const words = ['hello', 'world', 'the', 'deploy', 'is', 'done', 'ok', 'thanks', 'please', 'review', 'PR', 'bug', 'fix', 'lunch',
  'meeting', 'at', '10am', 'tomorrow', 'café', 'naïve', 'über', 'привет', '你好', 'こんにちは', 'مرحبا', 'שלום', 'ok?', 'yes!', 'no.',
  'v2.0', 'e.g.', 'i.e.', '(see)', '[draft]', 'x-y', 'a/b', '50%', '$5', '#1', 'C++', 'node.js', 'README.md', 'foo_bar', 'it\'s', '"quote"'];
const tokens = ['**', '*', '_', '__', '~', '~~', '`', '```', '||', '[', ']', '(', ')', '](', '<', '>', '|', '\\', ':', '#', '@', '!', '![',
  '-', '+', '.', ',', '$', '$$', '\\(', '\\)', '\\[', '\\]', '<t:', '\n', '\r\n', '\r', ' ', '  ', '\t', 'color:#', ':)', ':D', ';)',
  '<3', '-_-', ':smile:', ':+1:', '😀', '👍🏽', '🇫🇷', '❤️', '\u200d', '\ufe0f', '中', 'é', 'Ω', '\u00a0', '\u3000', 'https://', 'www.',
  '.com', '.org', 'x.io', '@user', '#chan', 'a@b.com', '+5511999999999', '1. ', '- ', '* ', '> ', '# ', '- [ ] ', '- [x] ', '---', 'T',
  '1717171717', '>', 'mailto:', 'localhost', '_x', 'x_', '0', '9', 'a', 'Z'];

const users = ['rocket.cat', 'john.doe', 'maria', 'all', 'here', 'dev-team', 'ana_paula', 'user123'];
const chans = ['general', 'random', 'dev-ops', 'support', 'release.notes'];
const urls = ['https://rocket.chat', 'https://github.com/RocketChat/Rocket.Chat/pull/123', 'http://example.com/a?b=1&c=2#frag',
  'www.google.com', 'docs.rocket.chat/use-rocket-chat', 'https://x.com/wiki/Foo_(bar)', 'https://jira.example.org/browse/ABC-42',
  'ftp://files.example.net/pub', 'http://localhost:3000/home', 'https://10.0.0.5:8443/', 'intranet.corp/x', 'youtube.com/watch?v=abc'];
const sentences = [
  () => `${pick(words)} ${pick(words)} ${pick(words)}`,
  () => `hey @${pick(users)} can you check ${pick(urls)}?`,
  () => `moving this to #${pick(chans)} :)`,
  () => `**${pick(words)}** is ${pick(['_really_', '*very*', '~not~', '`code`'])} ${pick(words)}`,
  () => `see [${pick(words)}](${pick(urls)}) and ${pick(urls)}.`,
  () => `> ${pick(words)} ${pick(words)}\n${pick(words)}`,
  () => `- ${pick(words)}\n- ${pick(words)}\n- ${pick(words)}`,
  () => `1. ${pick(words)}\n2. ${pick(words)}`,
  () => `- [ ] ${pick(words)}\n- [x] ${pick(words)}`,
  () => '```' + pick(['', 'js', 'python', 'sh']) + `\n${pick(words)}(${pick(words)})\n` + '```',
  () => `ping me at ${pick(['ana', 'bob.smith', 'c+d'])}@${pick(['example.com', 'rocket.chat', 'corp.local', 'mail.co.uk'])}`,
  () => `call +55 11 9${int(10000)}-${int(10000)}`,
  () => `${pick([':smile:', ':+1:', ':tada:', '😀', '👍', ':)', ':D', '<3'])} ${pick(words)}`,
  () => `# ${pick(words)} ${pick(words)}`,
  () => `meeting at <t:${1700000000 + int(99999999)}:${pick(['t', 'T', 'd', 'D', 'f', 'F', 'R'])}>`,
  () => `||${pick(words)} ${pick(words)}||`,
  () => `| ${pick(words)} | ${pick(words)} |\n| --- | :---: |\n| ${pick(words)} | ${pick(words)} |`,
  () => `\\(${pick(['x^2', 'a+b', '\\frac{1}{2}'])}\\) and \\[${pick(['E=mc^2', 'x'])}\\]`,
  () => `color:#${int(0xffffff).toString(16).padStart(6, '0')}`,
];
const chat = () => {
  const n = 1 + int(4);
  const parts = [];
  for (let i = 0; i < n; i++) parts.push(pick(sentences)());
  return parts.join(pick([' ', '\n', '\n\n', ' ']));
};
const markup = (len) => {
  let s = '';
  while (s.length < len) s += rand() < 0.5 ? pick(tokens) : pick(words);
  return s;
};
const nested = (depth) => {
  if (depth === 0) return pick(words);
  const [o, c] = pick([['*', '*'], ['**', '**'], ['_', '_'], ['__', '__'], ['~', '~'], ['~~', '~~'], ['||', '||'], ['[', '](https://x.com)'], ['`', '`']]);
  const inner = nested(depth - 1);
  return rand() < 0.2 ? o + inner : rand() < 0.1 ? inner + c : `${o}${inner}${rand() < 0.3 ? ' ' + pick(words) : ''}${c}`;
};

// Line-oriented documents: block prefixes in front of dense inline markup.
const inlineBits = ['**b**', '*b*', '_i_', '__i__', '~s~', '~~s~~', '`c`', '||sp||', '[l](https://x.com/a_(b))', '[l](x.org)',
  '<https://x.com|lbl>', '<x.io|a b>', '![alt](https://x.com/i.png)', '![](x.com/i.png)', 'https://x.com/p?q=1.', 'x.org,', '(www.x.com)',
  'http://localhost:80/', 'a.b@c.co.uk', 'mailto:z@y.com', '@u.ser', '#ch-an', ':tada:', ':)', ';-)', 'D:', '<3', '😀', '👩‍💻', '1️⃣',
  'color:#abc', 'color:#abcdef12', '\\(a^2\\)', '\\[b\\]', '<t:1717171717:f>', '\\<t:1717171717>', '+55 (11) 9999-9999',
  '+1(555)1234-567', 'snake_case', '__dunder__', 'x_', '_x', '*', '_', '~', '|', '\\*', 'a:b', 'a#b', 'a@b', '?', '!', '...', ' ', '  ', '\t',
  'ü', '中文', 'e\u0301', '\u00a0', '\u2028', 'https://a.b/c)d', '[a [b](https://x.com)', '[a] [b](https://x.com)', '**a _b ~c~ d_ e**',
  '_a *b* c_', '~a **b** c~', '*a ~b~ _c_*', '[**a** _b_](https://x.com)', '||**a** :) @b||', 'x.com/a(b)c', 'foo.bar/baz',
  'user@localhost', 'http://[::1]:80/', 'http://1.2.3.4/', '1.2.3.4', 'a..b.com', 'a.-b.com', 'xn--80ak6aa92e.com', 'test.co', 'x.web.app'];
const prefixes = ['', '', '', '> ', '>', '- ', '* ', '1. ', '12. ', '- [ ] ', '- [x] ', '# ', '### ', '#### ', '| ', '    ', '\t', '---', '```\n', '||\n', '\\[\n'];
const doc = () => {
  const lines = [];
  const n = 1 + int(6);
  for (let i = 0; i < n; i++) {
    let line = pick(prefixes);
    const m = 1 + int(6);
    for (let j = 0; j < m; j++) line += pick(inlineBits) + (rand() < 0.6 ? ' ' : '');
    if (line.startsWith('| ')) line += ' |' + (rand() < 0.5 ? '\n|---|:-:|\n| a | b |' : '');
    if (line.startsWith('```')) line += '\n```';
    if (line.startsWith('||\n')) line += '\n||';
    if (line.startsWith('\\[')) line += '\\]';
    lines.push(line);
  }
  return lines.join(pick(['\n', '\n', '\n\n', '\r\n']));
};
const emphasis = () => {
  const marks = ['*', '**', '_', '__', '~', '~~', '||', '`'];
  let s = '';
  const n = 2 + int(10);
  for (let i = 0; i < n; i++) s += rand() < 0.5 ? pick(marks) : pick(['a', 'b c', ' ', 'x_y', ':)', '@u', '#c', 'x.com', '😀', ':a:', '1', '\n']);
  return s;
};

// Hour-only timestamps (<t:10:00>) depend on the current date, so they cannot be fixtures.
const dateDependent = /<t:\d\d:\d\d/;
const inputs = [...spec, ...edges];
for (let i = 0; i < 1000; i++) inputs.push(chat());
for (let i = 0; i < 1200; i++) inputs.push(markup(1 + int(60)));
for (let i = 0; i < 400; i++) inputs.push(nested(1 + int(5)));
for (let i = 0; i < 200; i++) inputs.push(markup(60 + int(600)));
for (let i = 0; i < 8; i++) inputs.push(markup(5000 + int(20000)));
for (let i = 0; i < 1500; i++) inputs.push(doc());
for (let i = 0; i < 1500; i++) inputs.push(emphasis());
inputs.push(':)'.repeat(1000), ':):'.repeat(300), '*' + ':)'.repeat(300) + '*', '_' + ':)'.repeat(300) + '_', ';)'.repeat(500));
inputs.push('a'.repeat(20000), '*'.repeat(5000), '_'.repeat(5000), '[' .repeat(3000), ':)'.repeat(200), 'a.'.repeat(5000),
  '*a '.repeat(3000), '_a '.repeat(3000), '~'.repeat(3000) + 'x', '|'.repeat(4000), '\\('.repeat(2000), 'x@'.repeat(3000));
const seen = new Set();
const corpus = inputs.filter((s) => !dateDependent.test(s) && !seen.has(s) && seen.add(s));

for (const f of readdirSync(out)) if (/^corpus-\d+\.json$/.test(f)) unlinkSync(new URL(f, out));
let chunk = [];
let size = 0;
let n = 0;
const flush = () => {
  writeFileSync(new URL(`corpus-${String(n++).padStart(2, '0')}.json`, out), `${JSON.stringify(chunk, null, 0).replace(/","/g, '",\n"')}\n`);
  chunk = [];
  size = 0;
};
for (const s of corpus) {
  if (size > 50_000) flush();
  chunk.push(s);
  size += s.length + 4;
}
flush();
console.log(`${corpus.length} inputs in ${n} files`);
