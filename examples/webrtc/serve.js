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
//
// TURN (optional): a "turn" object in CONFIG_JSON_FILE, {"urls": "turn:ADDR:3478?transport=udp",
// "secret_file": PATH, "ttl_s": 86400, "relay_only": true}, makes /config.json carry
// iceServers with TURN REST credentials (draft-uberti-behave-turn-rest, docs/turn.md) minted
// at each request for the page's user: username EXPIRY:USER, credential
// base64(HMAC-SHA1(secret, username)). The secret is the first line of secret_file, the file
// given to `poprelayctl turn secret add ID --from-file`; it never leaves this server.
// relay_only sets iceTransportPolicy "relay". This is what a carrier's web application does.
'use strict';
const crypto = require('crypto');
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
// pageConfig(): the page's settings; a "turn" object becomes iceServers with fresh credentials
function pageConfig() {
	if (!configFile)
		return '{}';
	const c = JSON.parse(fs.readFileSync(configFile, 'utf8'));
	const t = c.turn;
	if (t === undefined)
		return JSON.stringify(c);
	delete c.turn;
	if (typeof t !== 'object' || typeof t.urls !== 'string' || !/^turns?:/.test(t.urls))
		throw new Error('turn.urls: a turn: or turns: URL is required');
	if (typeof t.secret_file !== 'string')
		throw new Error('turn.secret_file: the path of the TURN REST secret is required');
	const ttl = t.ttl_s === undefined ? 86400 : t.ttl_s;
	if (!Number.isInteger(ttl) || ttl < 60 || ttl > 7 * 86400)
		throw new Error('turn.ttl_s: an integer from 60 to 604800 is required');
	if (typeof c.user !== 'string' || !c.user)
		throw new Error('user: the TURN username is made of it, it is required with turn');
	let secret;
	try {
		secret = fs.readFileSync(t.secret_file, 'utf8').split('\n')[0];
	} catch (e) {
		throw new Error(`turn.secret_file: cannot read ${t.secret_file}: ${e.code || e.message}`);
	}
	if (secret.length < 16)
		throw new Error(`turn.secret_file: ${t.secret_file}: its first line is not a secret (16 characters or more)`);
	const username = `${Math.floor(Date.now() / 1000) + ttl}:${c.user}`;
	const credential = crypto.createHmac('sha1', secret).update(username).digest('base64');
	c.iceServers = [{ urls: t.urls, username, credential }];
	if (t.relay_only)
		c.iceTransportPolicy = 'relay';
	return JSON.stringify(c);
}
try {
	pageConfig();
} catch (e) {
	console.error(`serve.js: ${configFile}: ${e.message}`);
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
		try {
			return send(res, 200, TYPES['.json'], pageConfig());
		} catch (e) {
			return send(res, 500, 'text/plain', `${e.message}\n`);
		}
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
