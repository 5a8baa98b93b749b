// SPDX-License-Identifier: BSD-3-Clause
// The WebRTC demo's web server (examples/webrtc/): serves this folder's page on a loopback
// address, JsSIP for the browser as /jssip.js, and the demo's settings as /config.json.
//
//   node serve.js LISTEN_ADDR:PORT [CONFIG_JSON_FILE] [FIGURES_COMMAND...]
//
// A page on http://127.0.0.1 is a secure context (getUserMedia works) without a certificate.
// JsSIP's npm package ships CommonJS only (lib/, no browser build): /jssip.js is its modules
// wrapped into one script by the few lines of bundle() below, from tests/node/node_modules
// (`make deps` installs them). With FIGURES_COMMAND (e.g. poprelayctl -c CONF --json session
// list), GET /figures runs it and returns its output: the anchor's live figures for the page.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');
const { execFile } = require('child_process');

const MODULES = process.env.PR_NODE_MODULES || path.join(__dirname, '../../tests/node/node_modules');

// bundle(entry): a browser script that defines window.JsSIP from the CommonJS modules of
// `entry`, resolved as node does (relative files, index.js, a package's "browser" or "main").
function bundle(entry) {
	const ids = new Map(); // absolute path -> module index
	const mods = [];
	const resolveFile = (p) => {
		for (const c of [p, p + '.js', path.join(p, 'index.js')])
			if (fs.existsSync(c) && fs.statSync(c).isFile())
				return c;
		throw new Error(`bundle: cannot resolve ${p}`);
	};
	const resolve = (from, spec) => {
		if (spec.startsWith('.'))
			return resolveFile(path.resolve(path.dirname(from), spec));
		const dir = path.join(MODULES, spec);
		const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
		const main = typeof pkg.browser === 'string' ? pkg.browser : pkg.main || 'index.js';
		return resolveFile(path.join(dir, main));
	};
	const add = (file) => {
		if (ids.has(file))
			return ids.get(file);
		const id = mods.length;
		ids.set(file, id);
		mods.push(null);
		const src = fs.readFileSync(file, 'utf8');
		const deps = {};
		if (!file.endsWith('.json'))
			for (const m of src.matchAll(/require\(\s*['"]([^'"]+)['"]\s*\)/g))
				deps[m[1]] = add(resolve(file, m[1]));
		const body = file.endsWith('.json') ? `module.exports = ${src};` : src;
		mods[id] = `[function (require, module, exports) {\n${body}\n}, ${JSON.stringify(deps)}]`;
		return id;
	};
	add(resolveFile(entry));
	return `(function () {
var mods = [${mods.join(',\n')}];
var cache = {};
function load(id) {
	if (cache[id]) return cache[id].exports;
	var m = cache[id] = { exports: {} };
	mods[id][0](function (s) { return load(mods[id][1][s]); }, m, m.exports);
	return m.exports;
}
window.JsSIP = load(0);
})();
`;
}

const [listen, configFile, ...figures] = process.argv.slice(2);
if (!listen || !/^[0-9.]+:\d+$/.test(listen)) {
	console.error('usage: node serve.js LISTEN_ADDR:PORT [CONFIG_JSON_FILE] [FIGURES_COMMAND...]');
	process.exit(2);
}
let jssip;
try {
	jssip = bundle(path.join(MODULES, 'jssip/lib/JsSIP.js'));
} catch (e) {
	console.error(`serve.js: JsSIP not found under ${MODULES} (make deps): ${e.message}`);
	process.exit(1);
}
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json' };
const send = (res, code, type, body) => {
	res.writeHead(code, { 'Content-Type': type, 'Cache-Control': 'no-store' });
	res.end(body);
};
const server = http.createServer((req, res) => {
	const url = new URL(req.url, 'http://x');
	if (url.pathname === '/jssip.js')
		return send(res, 200, TYPES['.js'], jssip);
	if (url.pathname === '/config.json')
		return send(res, 200, TYPES['.json'], configFile ? fs.readFileSync(configFile) : '{}');
	if (url.pathname === '/figures') {
		if (!figures.length)
			return send(res, 404, 'text/plain', 'no figures command\n');
		return execFile(figures[0], figures.slice(1), { timeout: 5000 }, (err, out) =>
			send(res, err ? 502 : 200, err ? 'text/plain' : TYPES['.json'], err ? String(err.message) : out));
	}
	// this folder's files only, by their plain names
	const name = url.pathname === '/' ? 'index.html' : url.pathname.slice(1);
	if (!/^[a-z0-9_-]+\.(html|js|css)$/.test(name) || name === 'serve.js')
		return send(res, 404, 'text/plain', 'not found\n');
	fs.readFile(path.join(__dirname, name), (err, body) =>
		err ? send(res, 404, 'text/plain', 'not found\n') : send(res, 200, TYPES[path.extname(name)], body));
});
const [host, port] = [listen.slice(0, listen.lastIndexOf(':')), Number(listen.slice(listen.lastIndexOf(':') + 1))];
server.listen(port, host, () => console.log(`serving http://${listen}/`));
