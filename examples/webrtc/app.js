// SPDX-License-Identifier: BSD-3-Clause
// poprelay's WebRTC demo page (examples/webrtc/index.html): JsSIP registers over WSS, calls
// or answers, and the page shows the call's state, what it hears (the dominant frequency of
// the remote audio, from a WebAudio AnalyserNode) and the figures of its media leg.
// window.demo is the page's state and actions, which tests/node/browser_call.js drives too.
'use strict';
const $ = (id) => document.getElementById(id);
const demo = (window.demo = {
	state: { registered: false, regCause: '', call: 'idle', cause: '', direction: '', heard: [], stats: {}, log: [] },
	config: {},
	ua: null,
	session: null,
});
const log = (...a) => {
	const l = `${new Date().toISOString().slice(11, 23)} ${a.join(' ')}`;
	demo.state.log.push(l);
	console.log(l);
};

// The browser's own audio: the microphone, with the processing that would bend a tone off.
const AUDIO = { audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false }, video: false };
const pcConfig = () => ({
	iceServers: demo.config.iceServers || [],
	iceTransportPolicy: demo.config.iceTransportPolicy || 'all',
});

// What the page hears: every 100 ms the strongest frequency of the remote audio between
// 100 and 3800 Hz (telephone band), with its level; silence (below -75 dBFS) is not kept.
let audioCtx = null;
function listen(stream) {
	$('remote').srcObject = stream; // Chrome feeds WebAudio from a remote track only while it plays
	if (!audioCtx)
		audioCtx = new AudioContext();
	audioCtx.resume();
	const an = audioCtx.createAnalyser();
	an.fftSize = 8192;
	an.smoothingTimeConstant = 0;
	audioCtx.createMediaStreamSource(stream).connect(an);
	const bins = new Float32Array(an.frequencyBinCount);
	const hzPerBin = audioCtx.sampleRate / an.fftSize;
	const t0 = performance.now();
	const timer = setInterval(() => {
		if (demo.state.call === 'ended' || demo.state.call === 'failed')
			return clearInterval(timer);
		an.getFloatFrequencyData(bins);
		let best = -1;
		for (let i = Math.ceil(100 / hzPerBin); i < 3800 / hzPerBin; i++)
			if (best < 0 || bins[i] > bins[best])
				best = i;
		if (bins[best] < -75)
			return;
		const hz = Math.round(best * hzPerBin);
		demo.state.heard.push({ t: Math.round(performance.now() - t0), hz, db: Math.round(bins[best]) });
		if (demo.state.heard.length > 3000)
			demo.state.heard.shift();
		$('heard').textContent = `${hz} Hz at ${Math.round(bins[best])} dBFS`;
	}, 100);
}

// The leg's figures, once a second: packets, bytes, DTLS and SRTP, the pair ICE selected.
function watchStats(pc) {
	const timer = setInterval(async () => {
		if (pc.connectionState === 'closed')
			return clearInterval(timer);
		const s = {};
		const r = await pc.getStats();
		r.forEach((x) => {
			if (x.type === 'inbound-rtp' && x.kind === 'audio')
				Object.assign(s, { packetsReceived: x.packetsReceived, bytesReceived: x.bytesReceived, packetsLost: x.packetsLost, jitter: x.jitter });
			if (x.type === 'outbound-rtp' && x.kind === 'audio')
				Object.assign(s, { packetsSent: x.packetsSent, bytesSent: x.bytesSent });
			if (x.type === 'transport') {
				Object.assign(s, { dtlsState: x.dtlsState, dtlsRole: x.dtlsRole, srtpCipher: x.srtpCipher, tlsVersion: x.tlsVersion, iceState: x.iceState });
				const pair = r.get(x.selectedCandidatePairId);
				const rc = pair && r.get(pair.remoteCandidateId);
				const lc = pair && r.get(pair.localCandidateId);
				if (rc)
					s.remote = `${rc.address}:${rc.port} (${rc.candidateType})`;
				if (lc)
					s.local = `${lc.address}:${lc.port} (${lc.candidateType})`;
			}
			if (x.type === 'codec' && x.mimeType && x.mimeType.startsWith('audio/') && !s.codec)
				s.codec = x.mimeType;
		});
		s.connectionState = pc.connectionState;
		demo.state.stats = s;
		$('figures').textContent = Object.entries(s).map(([k, v]) => `${k}: ${v}`).join('\n');
	}, 1000);
}

function setCall(state, cause) {
	demo.state.call = state;
	if (cause !== undefined)
		demo.state.cause = String(cause);
	$('callstate').textContent = state + (demo.state.cause ? ` (${demo.state.cause})` : '');
	log('call', state, demo.state.cause);
}

function hook(session) {
	demo.session = session;
	demo.state.direction = session.direction;
	demo.state.heard = [];
	demo.state.stats = {};
	demo.state.cause = '';
	const pcHook = (pc) => {
		pc.addEventListener('track', (e) => listen(e.streams[0] || new MediaStream([e.track])));
		watchStats(pc);
	};
	if (session.connection)
		pcHook(session.connection);
	else
		session.on('peerconnection', (e) => pcHook(e.peerconnection));
	session.on('progress', () => setCall('ringing'));
	session.on('accepted', () => setCall('answered'));
	session.on('confirmed', () => setCall('confirmed'));
	session.on('ended', (e) => setCall('ended', e.cause));
	session.on('failed', (e) => setCall('failed', `${e.cause}${e.message && e.message.status_code ? ' ' + e.message.status_code : ''}`));
}

demo.register = function () {
	const c = demo.config;
	c.wss = $('wss').value;
	c.user = $('user').value;
	c.password = $('password').value;
	if (demo.ua)
		demo.ua.stop();
	const ua = (demo.ua = new JsSIP.UA({
		sockets: [new JsSIP.WebSocketInterface(c.wss)],
		uri: `sip:${c.user}@${c.domain || 'poprelay'}`,
		password: c.password,
		register: true,
		register_expires: 300,
		user_agent: 'poprelay-webrtc-demo',
	}));
	ua.on('registered', () => {
		demo.state.registered = true;
		$('reg').textContent = `registered as ${c.user}`;
		log('registered');
	});
	ua.on('registrationFailed', (e) => {
		demo.state.registered = false;
		demo.state.regCause = e.cause;
		$('reg').textContent = `registration failed: ${e.cause}`;
		log('registration failed', e.cause);
	});
	ua.on('disconnected', () => log('websocket disconnected'));
	ua.on('newRTCSession', (e) => {
		if (e.originator !== 'remote')
			return;
		if (demo.session && !demo.session.isEnded())
			return e.session.terminate({ status_code: 486 });
		hook(e.session);
		setCall('incoming', e.request.from.uri.user);
		if ($('autoanswer').checked)
			e.session.answer({ mediaConstraints: AUDIO, pcConfig: pcConfig() });
	});
	ua.start();
};

demo.call = function (target) {
	target = target || $('target').value;
	const s = demo.ua.call(`sip:${target}@${demo.config.domain || 'poprelay'}`, {
		mediaConstraints: AUDIO,
		pcConfig: pcConfig(),
	});
	hook(s);
	setCall('calling', target);
};

demo.hangup = function () {
	if (demo.session && !demo.session.isEnded())
		demo.session.terminate();
};

// The anchor's view of the call, when serve.js was given a command for it.
async function anchorFigures() {
	try {
		const r = await fetch('figures');
		if (r.ok)
			$('anchor').textContent = await r.text();
	} catch (e) {
		/* no figures command: the box stays empty */
	}
}

(async () => {
	try {
		demo.config = await (await fetch('config.json')).json();
	} catch (e) {
		demo.config = {};
	}
	const c = demo.config;
	$('wss').value = c.wss || `wss://${location.hostname}:8443`;
	$('user').value = c.user || '';
	$('password').value = c.password || '';
	$('target').value = c.target || '';
	$('domain').textContent = c.domain || 'poprelay';
	$('register').onclick = demo.register;
	$('call').onclick = () => demo.call();
	$('hangup').onclick = demo.hangup;
	if (c.figures)
		setInterval(anchorFigures, 2000);
	demo.ready = true;
	// ?register: register at once with the form's settings (a check of the page without
	// a click: tests/integration/make_run.sh)
	if (new URLSearchParams(location.search).has('register'))
		demo.register();
})();
