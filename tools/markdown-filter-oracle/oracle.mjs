// Differential oracle for rcpush's `rules::text::filter_markdown`.
//
// The function `rocketChatFiltered` below is Rocket.Chat's notification markdown filter, the
// `renderNotification` callback registered by apps/meteor/app/markdown/server, transcribed from
// RocketChat/Rocket.Chat apps/meteor/app/markdown/lib/parser/filtered/filtered.ts at commit
// f69a8b3c06eed7508d2dcf733ba02a0a30ce9b24 (identical regular expressions to 946fc5bd5d8a, whose
// default `supportSchemesForLink` is also 'http,https'). Node evaluates the regular expressions with
// the same engine semantics as Rocket.Chat's server, so its output is the reference.
//
// Run from the repository root with `node tools/markdown-filter-oracle/oracle.mjs`; it rewrites
// tests/fixtures/markdown_filter.json (deterministic: a fixed-seed generator, no npm packages).
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const rocketChatFiltered = (message) => {
	const schemes = 'http|https';
	message = message.replace(/```/g, '');
	message = message.replace(new RegExp(/`([^`\r\n]+)\`/gm), (match) => match.slice(1, -1));
	message = message.replace(new RegExp(`!?\\[([^\\]]+)\\]\\((?:${schemes}):\\/\\/[^\\)]+\\)`, 'gm'), (_, title) => title);
	message = message.replace(new RegExp(`(?:<|&lt;)(?:${schemes}):\\/\\/[^\\|]+\\|(.+?)(?=>|&gt;)(?:>|&gt;)`, 'gm'), (_, title) => title);
	message = message.replace(
		/(^#{1,4}) (([\S\w\d-_\/\*\.,\\][ \u00a0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]?)+)/gm,
		'$2',
	);
	message = message.replace(/(^|>|[ >_~`])\*{1,2}([^\*\r\n]+)\*{1,2}([<_~`]|\B|\b|$)/gm, '$1$2$3');
	message = message.replace(/(^|>|[ >*~`])\_{1,2}([^\_\r\n]+)\_{1,2}([<*~`]|\B|\b|$)/gm, '$1$2$3');
	message = message.replace(/(^|>|[ >_*`])\~{1,2}([^~\r\n]+)\~{1,2}([<_*`]|\B|\b|$)/gm, '$1$2$3');
	message = message.replace(/(?:>){3}\n+([\s\S]*?)\n+(?:<){3}/g, '$1');
	message = message.replace(/^>(.*)$/gm, '$1');
	return message;
};

// mulberry32: a tiny seeded generator, so the fixture only changes when this script does.
let seed = 0x5eed1234;
const rand = () => {
	seed = (seed + 0x6d2b79f5) | 0;
	let t = seed;
	t = Math.imul(t ^ (t >>> 15), t | 1);
	t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
	return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (list) => list[Math.floor(rand() * list.length)];
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));

const inputs = [];
const add = (s) => inputs.push(s);

// The vectors of rocketchat-push.md §2.5.
[
	'hello *world*',
	'hello **bold** and _it_ and ~strike~',
	'`code` and ```block```',
	'# Heading here',
	'[Rocket](https://rocket.chat) and ![img](http://x/y.png)',
	'<https://rocket.chat|Rocket.Chat>',
	'> quoted line',
	'a*b*c',
	'snake_case_word',
	'*multi\nline*',
	'[t](ftp://x)',
].forEach(add);

// Hand-picked edge cases, one group per rule.
[
	'', ' ', '\n', '\r\n', '\u2028', 'plain text', '😀', 'a\u2029b',
	// 1-2: code
	'```', '````', '`````', '``````', '```a```', '``', '`a`', '`a`b`', '`a``b`', '` `', '`a\nb`', '`a\rb`',
	'`a\u2028b`', '``a``', 'x`😀`y', '```js\nlet a = 1;\n```',
	// 3: links and images
	'[a](http://x)', '[a](https://x)', '[a](HTTP://x)', '[a](http:/x)', '[a](http://)', '[](http://x)',
	'![a](http://x)', '!![a](http://x)', '[[a](http://x)', '[a]](http://x)', '[a](http://x))', '[a](http://x(y))',
	'[a\nb](http://x\ny)', '[a](http://x) [b](https://y)', '[a](ftp://x) [b](http://y)', '[😀](http://😀)',
	'![a](http://x', '[a] (http://x)', '[a](https//x)', '[a](httpss://x)', '[a](http://x)[b](http://y)',
	// 4: <url|text>
	'<http://x|y>', '<https://x|y>', '&lt;http://x|y&gt;', '<http://x|y&gt;', '&lt;http://x|y>', '<http://x|>',
	'<http://x|>>', '<http://x||y>', '<http://x|y|z>', '<http://x|y\nz>', '<http://x|\ny>', '<http://|y>',
	'<http://x|y', '<http://x|a>b>', '<ftp://x|y>', '<<http://x|y>>', '<http://x|&gt;>', '<http://x|y&g>',
	'<http://a<http://b|c>', '<http://x|y\u2028z>', '<http://x|😀>', '<http://x\n|y>',
	// 5: headings
	'#a', '# a', '## a', '### a', '#### a', '##### a', '#  a', '# ', '#', ' # a', '# a\n## b', '# a b  c',
	'# a\u00a0b', '# a\u00a0\u00a0b', '# a\u2028# b', '# a\u2028\u2028## b', '# a\tb', '# a\n# b\n# c',
	'text\n# a', '# \u180e', '# \ufeff', '# a\ufeff\ufeffb', '#\ta', '# #', '# # a', '# a\r\n## b',
	// 6-8: emphasis
	'*a*', '**a**', '***a***', '*a**', '**a*', '* a *', '*a', 'a*', '**', '* *', ' *a* ', '>*a*', '_*a*_',
	'~*a*~', '`*a*`', 'x*a*', '*a*<', '*a*_', '*a*~', '*a*`', '*a*x', '*a*`*b*', '*a* *b*', '*a**b*',
	'*a\r*', '*a\u2028b*', '\u2028*a*', '\r*a*', '\n*a*', '_a_', '__a__', '___a___', 'a_b_c', ' _a_', '*_a_*',
	'~a~', '~~a~~', '~~~a~~~', ' ~a~', '_~a~_', '*~a~*', '`~a~`', '*a* _b_ ~c~', '**a** __b__ ~~c~~',
	'*a*_b_', '_a_*b*', '~a~*b*', '*😀*', '_😀_', '~😀~', 'é*a*', '😀*a*', '*a*😀',
	// 9-10: quotes
	'>>>\na\n<<<', '>>>\n\na\n\n<<<', '>>>\n<<<', '>>>\n\n<<<', '>>>\n\n\n<<<', '>>>a\n<<<', '>>>\na<<<',
	'>>>\na\n<<<\n>>>\nb\n<<<', '>>>\r\na\r\n<<<', '>>>>\na\n<<<', '>>>\na\n<<<<', '>>>\n>>>\na\n<<<',
	'>a', '>>a', '> a\n> b', 'a\n>b', '>a\r>b', '>a\u2028>b', '>a\u2029>b', '>', '>\n>', ' >a',
	// mixed
	'> **bold** _it_ `code` [l](http://x)', '# *a* _b_', '>>>\n# h\n*b*\n<<<', '`[a](http://x)`',
	'[`a`](http://x)', '<http://x|*a*>', '*[a](http://x)*', '# [a](http://x)',
].forEach(add);

// Systematic emphasis shapes: what stands before, delimiter runs, contents and what follows.
const before = ['', ' ', '>', '_', '~', '`', '*', 'a', '\n', '\r', '\u2028', '😀'];
const content = ['a', ' ', 'a b', '\u2028', '😀', 'a_b', 'a~b', 'a*b'];
const after = ['', '<', '_', '~', '`', '*', 'a', ' ', '\n'];
for (const d of ['*', '_', '~']) {
	for (let i = 0; i < 300; i++) {
		add(pick(before) + d.repeat(int(1, 3)) + pick(content) + d.repeat(int(1, 3)) + pick(after) + pick(['', ' x', d + 'b' + d]));
	}
}

// Random markup-heavy strings.
const tokens = [
	'*', '**', '_', '__', '~', '~~', '`', '```', '#', '# ', '## ', '#### ', '##### ', '>', '> ', '>>>', '<<<',
	'\n', '\n', '\r\n', '\r', '\u2028', '\u2029', ' ', ' ', ' ', '\t', '\u00a0', '\u180e', '\ufeff', '\u3000',
	'[', ']', '(', ')', '!', '<', '&lt;', '&gt;', '>', '|', 'http://', 'https://', 'ftp://', 'a', 'b', 'c',
	'word', 'x.y', '😀', '👍🏽', 'é', '中文', '\u200b', '-', '/', ',', '\\', ':', '$', '@', '0',
];
const randomText = (n) => Array.from({ length: n }, () => pick(tokens)).join('');
for (let i = 0; i < 1200; i++) {
	add(randomText(int(0, 24)));
}
// Random strings built around the link shapes, so the link rules fire often.
for (let i = 0; i < 300; i++) {
	const scheme = pick(['http://', 'https://', 'ftp://', 'http:/', '']);
	const shapes = [
		() => `${pick(['', '!'])}[${randomText(int(0, 4))}](${scheme}${randomText(int(0, 4))})`,
		() => `${pick(['<', '&lt;'])}${scheme}${randomText(int(0, 3))}|${randomText(int(0, 4))}${pick(['>', '&gt;', ''])}`,
		() => `>>>${pick(['\n', '\n\n', ''])}${randomText(int(0, 5))}${pick(['\n', '\n\n', ''])}<<<`,
		() => `${pick(['#', '##', '####', '#####'])}${pick([' ', '', '  '])}${randomText(int(0, 5))}`,
	];
	add(randomText(int(0, 4)) + pick(shapes)() + randomText(int(0, 4)) + pick(shapes)());
}

const seen = new Set();
const cases = [];
for (const input of inputs) {
	if (!seen.has(input)) {
		seen.add(input);
		cases.push([input, rocketChatFiltered(input)]);
	}
}

const out = join(dirname(fileURLToPath(import.meta.url)), '../../tests/fixtures/markdown_filter.json');
writeFileSync(out, `[\n${cases.map((c) => JSON.stringify(c)).join(',\n')}\n]\n`);
console.log(`wrote ${cases.length} cases to ${out}`);
