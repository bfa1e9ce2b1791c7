// The Session Room (spec 002) in the browser: the pre-join device check, then a 1-on-1 WebRTC call
// with the other participant, peer to peer, signaled over the room's socket (room/consumers.py).
// Negotiation follows the "perfect negotiation" pattern: the student's side is the polite one.
// Only the tutor's (impolite) side adds the call's two transceivers (audio, video: sending what it
// has, else receive-only), so the call has exactly one m-line of each kind whoever joined first; the
// student's side sends on the transceivers the tutor's offer created. Media that arrives later (a
// camera permission answered after Join, a retry after a refusal) is put on those transceivers
// (replaceTrack, direction to send) and renegotiated; a device switch only replaces the track.
// The page's #room-config (JSON) carries the session, the socket URL, the ICE servers and texts.
// With a video provider (cfg.provider "plugnmeet" or "bbb") the call runs in the provider's client
// instead: Join asks the server for this participant's join URL (POST cfg.joinUrl, the room's one
// entry rule) and frames it; the socket then only brings the room's state (who is in, from the
// provider's presence). The pre-join check, header, timer, check-in and resources stay the same.
// window.room exposes the peer connection and the state to tests (read-only use).
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("room-config").textContent);
  function $(id) { return document.getElementById(id); }
  var el = {
    prejoin: $("prejoin"), call: $("call"), preview: $("preview"), previewOff: $("preview-off"),
    meter: $("mic-meter"), camera: $("pick-camera"), mic: $("pick-mic"), speaker: $("pick-speaker"),
    testSpeaker: $("test-speaker"), mediaAlert: $("media-alert"), mediaRetry: $("media-retry"),
    join: $("join"), joinAlert: $("join-alert"), countdown: $("countdown"), roomDetail: $("room-detail"),
    roomStatus: $("room-status"), callStatus: $("call-status"), timer: $("timer"), checkIn: $("check-in"),
    sessionStatus: $("session-status"),
    local: $("local-video"), remote: $("remote-video"), peerNote: $("peer-note"), remoteMuted: $("remote-muted"),
    alert: $("call-alert"), alertText: $("call-alert-text"), retry: $("call-retry"), controls: $("controls"),
    mic_btn: $("toggle-mic"), cam_btn: $("toggle-camera"), switchBtn: $("switch-device"), pip: $("pip"),
    side: $("side-panel"), sideBtn: $("toggle-side"), sideClose: $("close-side"), leave: $("leave"),
    frame: $("provider-frame"), providerNote: $("provider-note"), recIndicator: $("rec-indicator"),
  };
  var viaProvider = !!cfg.provider && cfg.provider !== "p2p";
  var opensAt = Date.parse(cfg.opensAt), start = Date.parse(cfg.start), end = Date.parse(cfg.end);
  var polite = cfg.role === "student";

  var stream = null;          // our camera and microphone (null: joined without them)
  var outgoing = new MediaStream();  // the one stream id the other side receives our tracks in
  var off = { audio: false, video: false };  // muted microphone, stopped camera (kept across devices)
  var pc = null, peerId = null, myId = null, ws = null;
  var makingOffer = false, ignoreOffer = false;
  var inCall = false, leaving = false, failures = 0, heartbeatTimer = null, reconnectTimer = null;
  var iceTimer = null, lastError = null, state = cfg.state, providerFailed = false;
  var audioCtx = null, meterFrame = null, reported = {};

  // --- small helpers -----------------------------------------------------------------------------

  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; }
    catch (e) { return ""; }
  }
  function answer(response) {  // {status, ok, body}; a body that is not JSON is {}
    return response.json().then(function (body) { return { status: response.status, ok: response.ok, body: body }; },
      function () { return { status: response.status, ok: false, body: {} }; });
  }
  function post(url, data) {  // a JSON POST to this site with the CSRF token; resolves to answer()
    var headers = { "X-CSRFToken": csrf(), "Accept": "application/json" };
    if (data !== undefined) headers["Content-Type"] = "application/json";
    return fetch(url, { method: "POST", credentials: "same-origin", headers: headers,
      body: data === undefined ? undefined : JSON.stringify(data) }).then(answer);
  }
  function report(errorType) {  // tech_issue, once per kind per page
    if (reported[errorType] || !window.analytics) return;
    reported[errorType] = true;
    window.analytics.send("tech_issue", { session_id: cfg.sessionId, error_type: errorType }, "SROM");
  }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function clock(ms) {
    var s = Math.max(0, Math.floor(ms / 1000)), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return (h ? h + ":" + pad(m) : m) + ":" + pad(s % 60);
  }
  // a wait in words ("44 min 05 s", "1 h 05 min", "46 s"): "0:46" read as minutes or hours
  function span(ms) {
    var s = Math.max(0, Math.floor(ms / 1000)), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    if (h) return h + " h " + pad(m) + " min";
    return m ? m + " min " + pad(s % 60) + " s" : (s % 60) + " s";
  }
  function hhmm(ms) {
    var d = new Date(ms);
    return pad(d.getHours()) + ":" + pad(d.getMinutes());
  }
  function show(node, on) { if (node) node.hidden = !on; }
  function stopStream(s) { if (s) s.getTracks().forEach(function (t) { t.stop(); }); }

  // --- device check ------------------------------------------------------------------------------

  function constraints() {
    return {
      audio: el.mic.value && !el.mic.disabled ? { deviceId: { exact: el.mic.value } } : true,
      video: el.camera.value && !el.camera.disabled ? { deviceId: { exact: el.camera.value } } : true,
    };
  }

  function mediaProblem(err) {
    var denied = err && (err.name === "NotAllowedError" || err.name === "SecurityError");
    var text = el.mediaAlert.querySelector(".error");
    text.textContent = denied || !navigator.mediaDevices ? cfg.texts.denied
      : "No camera or microphone was found. Connect one and try again.";
    show(el.mediaAlert, true);
    report(denied ? "media_denied" : "media_unavailable");
  }

  function startMedia() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      mediaProblem(null);
      return Promise.resolve(null);
    }
    return navigator.mediaDevices.getUserMedia(constraints()).then(function (s) {
      if (viaProvider && inCall) { stopStream(s); return null; }  // joined meanwhile: the provider's client has them
      stopStream(stream);
      stream = s;
      s.getTracks().forEach(function (t) { t.enabled = !off[t.kind]; });
      show(el.mediaAlert, false);
      el.preview.srcObject = s;
      if (el.local) el.local.srcObject = s;
      showLocalVideo();
      rewireRecording();
      watchLevel(s);
      attachMedia();
      if (inCall && !viaProvider) sendMedia();
      return listDevices();
    }).catch(function (err) {
      mediaProblem(err);
      return null;
    });
  }

  function fill(select, items, chosen, fallback) {
    select.innerHTML = "";
    items.forEach(function (d, i) {
      var option = document.createElement("option");
      option.value = d.deviceId;
      option.textContent = d.label || fallback + " " + (i + 1);
      option.selected = d.deviceId === chosen;
      select.appendChild(option);
    });
    select.disabled = items.length === 0;
    if (!items.length) select.innerHTML = "<option>None found</option>";
  }

  function listDevices() {
    return navigator.mediaDevices.enumerateDevices().then(function (all) {
      var track = function (kind) {
        var t = stream && stream.getTracks().filter(function (x) { return x.kind === kind; })[0];
        return t && t.getSettings ? t.getSettings().deviceId : "";
      };
      var of = function (kind) { return all.filter(function (d) { return d.kind === kind; }); };
      fill(el.camera, of("videoinput"), track("video"), "Camera");
      fill(el.mic, of("audioinput"), track("audio"), "Microphone");
      var outputs = of("audiooutput");
      if (outputs.length && "setSinkId" in HTMLMediaElement.prototype) {
        fill(el.speaker, outputs, el.speaker.value, "Speaker");
      }
      show(el.switchBtn, of("videoinput").length > 1);
    });
  }

  function context() {
    if (!audioCtx) {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return null;
      audioCtx = new Ctx();
    }
    if (audioCtx.state === "suspended") audioCtx.resume();
    return audioCtx;
  }

  function watchLevel(s) {
    var ctx = context();
    if (!ctx || !s.getAudioTracks().length) return;
    var analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    ctx.createMediaStreamSource(s).connect(analyser);
    var data = new Uint8Array(analyser.fftSize), bar = el.meter.querySelector(".meter__bar"), said = 0;
    cancelAnimationFrame(meterFrame);
    (function tick() {
      analyser.getByteTimeDomainData(data);
      var sum = 0;
      for (var i = 0; i < data.length; i++) { var v = (data[i] - 128) / 128; sum += v * v; }
      var level = Math.min(100, Math.round(Math.sqrt(sum / data.length) * 300));
      bar.style.width = level + "%";
      if (Date.now() - said > 500) { el.meter.setAttribute("aria-valuenow", level); said = Date.now(); }
      meterFrame = requestAnimationFrame(tick);
    })();
  }

  function testSound() {
    var ctx = context();
    if (!ctx) return;
    var osc = ctx.createOscillator(), gain = ctx.createGain(), out = ctx.destination, audio = null;
    if (el.speaker.value && !el.speaker.disabled && "setSinkId" in HTMLMediaElement.prototype) {
      var sink = ctx.createMediaStreamDestination();
      audio = new Audio();
      audio.srcObject = sink.stream;
      audio.setSinkId(el.speaker.value).catch(function () {});
      audio.play().catch(function () {});
      out = sink;
    }
    osc.frequency.value = 523.25;
    gain.gain.setValueAtTime(0.2, ctx.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + 0.8);
    osc.connect(gain).connect(out);
    osc.start();
    osc.stop(ctx.currentTime + 0.8);
    el.testSpeaker.textContent = "Playing… (did you hear a tone?)";
    setTimeout(function () { el.testSpeaker.textContent = "Play a test sound"; if (audio) audio.pause(); }, 1200);
  }

  function applySpeaker() {
    if (el.remote && el.speaker.value && el.remote.setSinkId) el.remote.setSinkId(el.speaker.value).catch(function () {});
  }

  // --- the room's state --------------------------------------------------------------------------

  function applyState(s) {
    state = s;
    [el.roomStatus, el.callStatus].forEach(function (node) {
      if (!node || (node === el.roomStatus && el.join.hasAttribute("data-blocked"))) return;
      node.textContent = s.label;
      node.className = "state state--" + s.state;
    });
    if (el.roomDetail) el.roomDetail.textContent = s.detail;
    if (el.peerNote) el.peerNote.textContent = s.detail;
    show(el.peerNote, s.state !== "in_progress" || !pc || pc.connectionState !== "connected");
    show(el.checkIn, !!s.can_check_in);
    if (providerFailed) technical();  // the provider's refusal stands until Retry, whatever the socket says
    if (s.status_label) el.sessionStatus.textContent = "· " + s.status_label;
    showRecording();
    document.getElementById("room").dataset.state = s.state;
    if (s.final && inCall) leave();
  }

  function tick() {
    var now = Date.now();
    if (!inCall) {
      if (now < opensAt) {
        el.countdown.textContent = "The room opens in " + span(opensAt - now) + " (at " + hhmm(opensAt) + ")";
        el.join.disabled = true;
        el.join.textContent = "Opens at " + hhmm(opensAt);
      } else if (now < start) {
        el.countdown.textContent = "In " + span(start - now) + ": the room is open";
        openJoin();
      } else if (now < end || (state && state.other_present && !state.final)) {
        el.countdown.textContent = "Started " + span(now - start) + " ago";
        openJoin();
      } else if (!leaving) {
        leaving = true;
        window.location.assign(cfg.afterUrl);  // the post-session screen
      }
    } else {
      el.timer.textContent = now < start ? "Starts in " + span(start - now)
        : clock(now - start) + " of " + clock(end - start);
    }
  }

  function openJoin() {
    if (el.join.textContent === "Join Session") return;
    el.join.textContent = "Join Session";
    el.join.disabled = el.join.hasAttribute("data-blocked") || !!(state && state.final);
  }

  // --- the socket --------------------------------------------------------------------------------

  function send(message) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  function connect() {
    clearTimeout(reconnectTimer);
    lastError = null;
    ws = new WebSocket(cfg.socketUrl);
    ws.onmessage = function (event) {
      var msg;
      try { msg = JSON.parse(event.data); } catch (e) { return; }
      handle(msg).catch(function (err) { console.warn("room:", err); });
    };
    ws.onclose = closed;
  }

  function closed(event) {
    clearInterval(heartbeatTimer);
    if (leaving) return;
    var code = event.code, detail = lastError ? lastError.detail : "";
    if (code === 4001) {
      closePeer();
      alertWith(detail || "You joined this session in another tab or window.", "Use this tab");
      return;
    }
    if (code === 4401) { window.location.reload(); return; }
    if (code === 4403 || code === 4404) { closePeer(); alertWith(detail, null); return; }
    if (code === 4409) {
      if (Date.now() >= opensAt) { leaving = true; window.location.assign(cfg.afterUrl); return; }
      closePeer(); alertWith(detail, null); return;
    }
    if (code === 4429 && lastError && lastError.retry_after) {
      // too many connection attempts: the server's words, and no new attempt before it allows one
      alertWith(detail, null);
      reconnectTimer = setTimeout(connect, lastError.retry_after * 1000);
      return;
    }
    failures += 1;
    var connected = pc && pc.connectionState === "connected";
    if (failures >= 3 && !connected) {
      technical();
      alertWith(cfg.texts.connection, "Retry");
      report("connection_failed");
    } else {
      el.callStatus.textContent = "Reconnecting…";
    }
    reconnectTimer = setTimeout(connect, Math.min(10000, 1000 * Math.pow(2, failures - 1)));
  }

  function technical() {  // R10 Technical Issues: the browser's own state
    el.callStatus.textContent = "Technical Issues";
    el.callStatus.className = "state state--technical";
  }

  function alertWith(text, button) {
    el.alertText.textContent = text;
    show(el.alert, true);
    show(el.retry, !!button);
    if (button) el.retry.textContent = button;
  }

  function handle(msg) {
    switch (msg.type) {
      case "welcome":
        // a new connection of ours (the socket came back): the other side sets up a new peer
        // connection with it, so ours to the old one is dropped too
        if (myId && myId !== msg.connection_id) closePeer();
        myId = msg.connection_id;
        failures = 0;
        if (!providerFailed) show(el.alert, false);  // the socket's own trouble is over, not the provider's
        clearInterval(heartbeatTimer);
        heartbeatTimer = setInterval(function () { send({ type: "heartbeat" }); }, (msg.heartbeat || 10) * 1000);
        if (!viaProvider) sendMedia();
        return peersChanged(msg);
      case "state":
        return peersChanged(msg);
      case "offer":
      case "answer":
        return description(msg);
      case "ice":
        return candidate(msg);
      case "media":
        show(el.remoteMuted, !msg.audio);
        if (el.remote) el.remote.closest("figure").classList.toggle("video--off", !msg.video);
        return Promise.resolve();
      case "error":
        lastError = msg;
        return Promise.resolve();
    }
    return Promise.resolve();
  }

  function peersChanged(msg) {
    applyState(msg);
    if (viaProvider) return Promise.resolve();  // the call is in the provider's client
    var peers = msg.peers || [];
    if (!peers.length) {  // nobody to hear from: no "microphone off" or "video off" of theirs
      show(el.remoteMuted, false);
      if (el.remote) el.remote.closest("figure").classList.remove("video--off");
    }
    if (peerId && peers.indexOf(peerId) < 0) closePeer();
    if (!peerId && peers.length) setPeer(peers[peers.length - 1]);
    return Promise.resolve();
  }

  // --- the peer connection -----------------------------------------------------------------------

  function setPeer(id, answering) {
    closePeer();
    peerId = id;
    pc = new RTCPeerConnection({ iceServers: cfg.iceServers });
    window.room.pc = pc;
    pc.onicecandidate = function (e) {
      send({ type: "ice", to: peerId, candidate: e.candidate ? e.candidate.toJSON() : null });
    };
    pc.ontrack = function (e) {
      var s = e.streams[0];
      if (!s) {  // a sender without a stream: its tracks all go into the one remote stream
        s = el.remote.srcObject || new MediaStream();
        if (s.getTracks().indexOf(e.track) < 0) s.addTrack(e.track);
      }
      if (el.remote.srcObject !== s) {
        el.remote.srcObject = s;
        applySpeaker();
      }
      rewireRecording();
    };
    pc.onnegotiationneeded = function () {
      makingOffer = true;
      pc.setLocalDescription().then(function () {
        send({ type: pc.localDescription.type, to: peerId, sdp: pc.localDescription.sdp });
      }).catch(function (err) { console.warn("room: offer failed", err); })
        .then(function () { makingOffer = false; });
    };
    pc.onconnectionstatechange = function () {
      var s = pc.connectionState;
      if (s === "connected") {
        clearTimeout(iceTimer);
        show(el.alert, false);
        show(el.peerNote, false);
        startRecording();
      } else if (s === "disconnected") {
        el.peerNote.textContent = "Connection unstable: reconnecting…";
        show(el.peerNote, true);
      } else if (s === "failed") {
        pc.restartIce();
        clearTimeout(iceTimer);
        iceTimer = setTimeout(function () {
          if (pc && pc.connectionState !== "connected") {
            technical();
            alertWith(cfg.texts.connection, "Retry");
            report("peer_connection_failed");
          }
        }, 15000);
      }
    };
    if (!polite && !answering) {  // the tutor's side lays out the call: one audio, one video
      ["audio", "video"].forEach(function (kind) {
        var track = localTrack(kind);
        if (track) pc.addTrack(track, outgoing);
        else pc.addTransceiver(kind, { direction: "recvonly", streams: [outgoing] });
      });
    }
    sendMedia();  // the other side learns whether our microphone and camera are on
  }

  function localTrack(kind) {
    return (stream && stream.getTracks().filter(function (t) { return t.kind === kind; })[0]) || null;
  }

  // Our tracks on the call's transceivers, whenever either changes (media arriving after Join, a new
  // device, an offer that created the transceivers): the first live transceiver of each kind sends.
  // Turning one from receiving to sending fires negotiationneeded, which renegotiates.
  function attachMedia() {
    if (!pc || pc.signalingState === "closed") return;
    ["audio", "video"].forEach(function (kind) {
      var track = localTrack(kind);
      var t = pc.getTransceivers().filter(function (x) {
        return !x.stopped && x.direction !== "stopped" && x.receiver.track.kind === kind;
      })[0];
      if (!t || !track) return;
      if (t.sender.track !== track) {
        t.sender.replaceTrack(track).catch(function (err) { console.warn("room: track not replaced", err); });
      }
      if (t.direction === "recvonly" || t.direction === "inactive") {
        if (t.sender.setStreams) t.sender.setStreams(outgoing);
        t.direction = t.direction === "recvonly" ? "sendrecv" : "sendonly";
      }
    });
  }

  function closePeer() {
    if (pc) { pc.onconnectionstatechange = null; pc.close(); }
    pc = null;
    peerId = null;
    makingOffer = ignoreOffer = false;
    window.room.pc = null;
    if (el.remote) el.remote.srcObject = null;
    clearTimeout(iceTimer);
  }

  function description(msg) {
    if (msg.from !== peerId) {
      if (msg.type !== "offer") return Promise.resolve();
      setPeer(msg.from, true);  // a newer connection of the other participant (a reload, another tab)
    }
    var collision = msg.type === "offer" && (makingOffer || pc.signalingState !== "stable");
    ignoreOffer = !polite && collision;
    if (ignoreOffer) return Promise.resolve();
    return pc.setRemoteDescription({ type: msg.type, sdp: msg.sdp }).then(function () {
      if (msg.type !== "offer") return null;
      attachMedia();  // the offer may have created the transceivers we send on: the answer says so
      return pc.setLocalDescription().then(function () {
        send({ type: "answer", to: peerId, sdp: pc.localDescription.sdp });
      });
    });
  }

  function candidate(msg) {
    if (!pc || msg.from !== peerId) return Promise.resolve();
    return pc.addIceCandidate(msg.candidate || null).catch(function (err) {
      if (!ignoreOffer) console.warn("room: candidate refused", err);
    });
  }

  // --- joining and leaving -----------------------------------------------------------------------

  function join() {
    if (viaProvider) return joinProvider();
    if (recordable) context();  // resumed within the click: the recording's sound mix may play
    el.join.disabled = true;
    inCall = true;
    show(el.prejoin, false);
    show(el.call, true);
    document.body.classList.add("in-call");
    el.local.srcObject = stream;
    showLocalVideo();
    connect();
    tick();
    el.mic_btn.focus();
  }

  // --- with a video provider --------------------------------------------------------------------

  function joinProvider() {
    el.join.disabled = true;
    inCall = true;
    show(el.prejoin, false);
    show(el.call, true);
    document.body.classList.add("in-call");
    // the provider's client asks for the camera and microphone itself: let go of the preview's
    if (meterFrame) cancelAnimationFrame(meterFrame);
    stopStream(stream);
    stream = null;
    el.preview.srcObject = null;
    connect();
    tick();
    requestJoin();
    el.leave.focus();
  }

  function requestJoin() {
    providerFailed = false;
    show(el.alert, false);
    show(el.providerNote, true);
    post(cfg.joinUrl).then(function (result) {
      var body = result.body || {};
      if (result.status === 200 && body.kind === "url" && body.url) {
        el.frame.src = body.url;
        show(el.frame, true);
        show(el.providerNote, false);
        applyState(state);
        return;
      }
      if (result.status === 200 && body.kind === "builtin") { window.location.reload(); return; }
      show(el.providerNote, false);
      if (result.status === 409 && Date.now() >= opensAt) { leaving = true; window.location.assign(cfg.afterUrl); return; }
      providerTrouble(body.detail, result.status === 503 || result.status >= 500);
    }).catch(function () { show(el.providerNote, false); providerTrouble(null, true); });
  }

  function providerTrouble(detail, retryable) {  // R12 "Video service unavailable. Try again."
    providerFailed = true;
    technical();
    alertWith(detail || cfg.texts.provider, retryable ? "Retry" : null);
    if (retryable) report("provider_unavailable");
  }

  function leave() {
    leaving = true;
    if (el.frame) el.frame.src = "about:blank";  // out of the provider's room first
    // the recorder takes its last frames before the tracks stop; its last part is then uploaded
    var saved = stopRecording();
    send({ type: "bye", end: true });  // on purpose: the tutor leaving ends a provider's room
    if (ws) ws.close(1000);
    closePeer();
    stopStream(stream);
    var giveUp = new Promise(function (resolve) { setTimeout(resolve, SAVE_WAIT_MS); });
    Promise.race([saved, giveUp]).then(function () { window.location.assign(cfg.afterUrl); });
  }

  // --- recording the call (the built-in room, where the course records) -------------------------
  // The tutor's browser draws both videos onto a canvas, mixes both voices, records that with
  // MediaRecorder and uploads it in parts of exactly rec.partBytes (the last one shorter), one
  // after another, each retried a few times; leaving completes the recording. The server checks
  // every part (video/browser_recordings.py) and tells both sockets that the call is recorded.

  var rec = null, SAVE_WAIT_MS = 60000;
  var recordable = !!(cfg.recording && cfg.recording.mine && window.MediaRecorder &&
    HTMLCanvasElement.prototype.captureStream);

  function recordingType() {
    var types = ["video/webm;codecs=vp8,opus", "video/webm", "video/mp4"];
    for (var i = 0; i < types.length; i++) if (MediaRecorder.isTypeSupported(types[i])) return types[i];
    return "";
  }

  function showRecording() {
    show(el.recIndicator, !!((state && state.recording) || (rec && rec.recorder)));
  }

  function startRecording() {
    if (!recordable || rec || leaving) return;
    var type = recordingType();
    if (!type) { report("recording_unsupported"); return; }
    rec = { chunks: [], size: 0, next: 1, queue: Promise.resolve(), failed: null, began: Date.now() };
    post(cfg.recording.startUrl, { content_type: type }).then(function (result) {
      if (!rec || leaving) return;
      if (!result.ok) { rec = null; console.warn("room: recording refused", result.body.detail); return; }
      rec.id = result.body.id;
      rec.partsUrl = result.body.parts_url;
      rec.completeUrl = result.body.complete_url;
      rec.partBytes = result.body.part_bytes;
      var recorder = new MediaRecorder(composed(), { mimeType: type, videoBitsPerSecond: 1000000 });
      recorder.ondataavailable = function (e) {
        if (!e.data || !e.data.size) return;
        rec.chunks.push(e.data);
        rec.size += e.data.size;
        cut(false);
      };
      recorder.start(1000);
      rec.recorder = recorder;
      window.room.recording = rec;
      showRecording();
    }).catch(function () { rec = null; report("recording_failed"); });
  }

  function composed() {
    var canvas = document.createElement("canvas"), g = canvas.getContext("2d");
    canvas.width = 640;
    canvas.height = 360;
    function place(video, x, y, w, h) {
      if (!video || video.readyState < 2 || !video.videoWidth) return;
      var scale = Math.min(w / video.videoWidth, h / video.videoHeight);
      var dw = video.videoWidth * scale, dh = video.videoHeight * scale;
      g.drawImage(video, x + (w - dw) / 2, y + (h - dh) / 2, dw, dh);
    }
    rec.drawTimer = setInterval(function () {
      g.fillStyle = "#000";
      g.fillRect(0, 0, 640, 360);
      place(el.remote, 0, 0, 640, 360);
      place(el.local, 464, 252, 168, 100);
    }, 66);
    var out = canvas.captureStream(15), ctx = context();
    if (ctx) {
      rec.mix = ctx.createMediaStreamDestination();
      rec.sources = [];
      rewireRecording();
      rec.mix.stream.getAudioTracks().forEach(function (t) { out.addTrack(t); });
    }
    return out;
  }

  function rewireRecording() {  // both voices into the recording, whatever streams are current now
    if (!rec || !rec.mix) return;
    var ctx = context();
    rec.sources.forEach(function (node) { node.disconnect(); });
    rec.sources = [];
    [stream, el.remote && el.remote.srcObject].forEach(function (s) {
      if (s && s.getAudioTracks().length) {
        var node = ctx.createMediaStreamSource(s);
        node.connect(rec.mix);
        rec.sources.push(node);
      }
    });
  }

  function cut(last) {  // whole parts go out as soon as they fill; the rest waits (or is the last part)
    while (rec.size >= rec.partBytes || (last && rec.size)) {
      var all = new Blob(rec.chunks), size = Math.min(rec.partBytes, all.size);
      var rest = all.slice(size);
      enqueue(all.slice(0, size));
      rec.chunks = rest.size ? [rest] : [];
      rec.size = rest.size;
    }
  }

  function enqueue(part) {
    var number = rec.next++, current = rec;
    current.queue = current.queue.then(function () { return sendPart(current, number, part, 0); });
  }

  function sendPart(current, number, part, attempt) {
    if (current.failed) return Promise.resolve();
    return fetch(current.partsUrl + number, {
      method: "PUT", credentials: "same-origin", body: part,
      headers: { "X-CSRFToken": csrf(), "Accept": "application/json", "Content-Type": "application/octet-stream" },
    }).then(answer, function () { return { status: 0, ok: false, body: {} }; }).then(function (result) {
      if (result.ok) return null;
      if ((result.status === 0 || result.status >= 500) && attempt < 4) {
        return new Promise(function (resolve) { setTimeout(resolve, 1000 * Math.pow(2, attempt)); })
          .then(function () { return sendPart(current, number, part, attempt + 1); });
      }
      current.failed = result.body.detail || "upload failed";
      report("recording_upload_failed");
      return null;
    });
  }

  function stopRecording() {
    var current = rec;
    if (!current || !current.recorder) { rec = null; return Promise.resolve(); }
    return new Promise(function (resolve) {
      current.recorder.onstop = resolve;  // after its last dataavailable
      current.recorder.stop();
    }).then(function () {
      clearInterval(current.drawTimer);
      cut(true);
      return current.queue;
    }).then(function () {
      if (current.failed) return null;
      return post(current.completeUrl, { duration_seconds: Math.round((Date.now() - current.began) / 1000) });
    }).catch(function () { report("recording_failed"); }).then(function () {
      rec = null;
      showRecording();
    });
  }

  function retry() {
    show(el.alert, false);
    failures = 0;
    if (viaProvider && el.frame.hidden) {
      requestJoin();
      if (ws && ws.readyState === WebSocket.OPEN) return;
    }
    closePeer();
    if (ws && ws.readyState <= WebSocket.OPEN) { ws.onclose = null; ws.close(); }
    connect();
  }

  function checkIn() {
    el.checkIn.disabled = true;
    post(cfg.checkInUrl).then(function (result) {
      el.checkIn.disabled = false;
      if (result.ok) { show(el.checkIn, false); el.sessionStatus.textContent = "· " + result.body.status_label; }
      else if (result.body.detail) alertWith(result.body.detail, null);
      else alertWith(cfg.texts.connection, "Retry");
    }).catch(function () { el.checkIn.disabled = false; alertWith(cfg.texts.connection, "Retry"); });
  }

  // --- controls ----------------------------------------------------------------------------------

  function sendMedia() {
    var audio = !!(stream && stream.getAudioTracks().some(function (t) { return t.enabled; }));
    var video = !!(stream && stream.getVideoTracks().some(function (t) { return t.enabled; }));
    send({ type: "media", audio: audio, video: video });
  }

  function toggle(kind, button, onText, offText) {
    if (!stream) return;
    var tracks = kind === "audio" ? stream.getAudioTracks() : stream.getVideoTracks();
    if (!tracks.length) return;
    off[kind] = !off[kind];
    tracks.forEach(function (t) { t.enabled = !off[kind]; });
    button.setAttribute("aria-pressed", off[kind] ? "true" : "false");
    button.querySelector(".controls__label").textContent = off[kind] ? offText : onText;
    showLocalVideo();
    sendMedia();
  }

  function showLocalVideo() {  // "video off" while there is no camera (yet) or it is stopped
    if (!el.local) return;
    var on = !!(stream && stream.getVideoTracks().some(function (t) { return t.enabled; }));
    el.local.closest("figure").classList.toggle("video--off", !on);
  }

  function switchCamera() {
    var options = Array.prototype.slice.call(el.camera.options).filter(function (o) { return o.value; });
    if (options.length < 2) return;
    var next = (el.camera.selectedIndex + 1) % options.length;
    el.camera.selectedIndex = next;
    startMedia();
  }

  function togglePip() {
    if (document.pictureInPictureElement) document.exitPictureInPicture();
    else if (el.remote.srcObject) el.remote.requestPictureInPicture().catch(function () {});
  }

  // the side panel; on a phone it lies over the videos and has a close button of its own, which
  // takes focus when it opens; closing it (that button or Escape) gives focus back to the opener
  function toggleSide() {
    if (el.side.hidden) openSide(); else closeSide();
  }
  function openSide() {
    show(el.side, true);
    el.sideBtn.setAttribute("aria-expanded", "true");
    if (el.sideClose.offsetParent !== null) el.sideClose.focus();  // only where it is shown
  }
  function closeSide() {
    show(el.side, false);
    el.sideBtn.setAttribute("aria-expanded", "false");
    el.sideBtn.focus();
  }

  // Phones: the controls hide after a few seconds without a touch, and come back on any touch,
  // key or focus (a keyboard user never loses them).
  var hideTimer = null, small = window.matchMedia("(max-width: 700px), (pointer: coarse)");
  function keyboardIn(node) {  // a keyboard user's focus is inside: never hide what they are on
    var active = document.activeElement;
    if (!active || !node.contains(active)) return false;
    try { return active.matches(":focus-visible"); } catch (e) { return true; }
  }
  function wake() {
    el.call.classList.remove("controls-hidden");
    clearTimeout(hideTimer);
    // touches inside a provider's framed client never reach this page: its controls stay put
    if (small.matches && !viaProvider) {
      hideTimer = setTimeout(function () {
        if (!keyboardIn(el.controls)) el.call.classList.add("controls-hidden");
      }, 4000);
    }
  }

  // --- wiring ------------------------------------------------------------------------------------

  window.room = { pc: null, recording: null, state: function () { return state; }, socket: function () { return ws; } };
  el.join.addEventListener("click", join);
  // the page comes with Join disabled: a click before this script ran would do nothing
  if (el.join.hasAttribute("data-enterable")) el.join.disabled = false;
  el.leave.addEventListener("click", leave);
  el.retry.addEventListener("click", retry);
  el.checkIn.addEventListener("click", checkIn);
  el.mediaRetry.addEventListener("click", startMedia);
  el.testSpeaker.addEventListener("click", testSound);
  el.camera.addEventListener("change", startMedia);
  el.mic.addEventListener("change", startMedia);
  el.speaker.addEventListener("change", applySpeaker);
  if (!viaProvider) {  // the provider's client has its own
    el.mic_btn.addEventListener("click", function () { toggle("audio", el.mic_btn, "Mute", "Unmute"); });
    el.cam_btn.addEventListener("click", function () { toggle("video", el.cam_btn, "Stop video", "Start video"); });
    el.switchBtn.addEventListener("click", switchCamera);
    el.pip.addEventListener("click", togglePip);
    show(el.pip, !!document.pictureInPictureEnabled);
  }
  el.sideBtn.addEventListener("click", toggleSide);
  el.sideClose.addEventListener("click", closeSide);
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && !el.side.hidden) { e.preventDefault(); closeSide(); }
  });
  ["pointerdown", "keydown", "focusin", "mousemove"].forEach(function (e) { el.call.addEventListener(e, wake); });
  document.addEventListener("keydown", function (e) {
    if (!inCall || !e.altKey || viaProvider) return;
    if (e.key === "m" || e.key === "M") { e.preventDefault(); el.mic_btn.click(); }
    if (e.key === "v" || e.key === "V") { e.preventDefault(); el.cam_btn.click(); }
  });
  window.addEventListener("pagehide", function () { if (inCall && ws) { leaving = true; send({ type: "bye" }); } });

  applyState(cfg.state);
  tick();
  setInterval(tick, 1000);
  wake();
  startMedia();
})();
