# Issue 20 investigation (not part of npm test): bytes on each process's established TCP connections to
# a MongoDB port, every 10 s, from `ss -tnpi` (needs root for other users' processes). One JSON line per sample:
# {"t": epoch-seconds, "perProcess": {"<last 3 argv words>": [bytes sent, bytes received, connections]}} (deltas).
# Usage: python3 bench/mongo-traffic-sampler.py PORT SECONDS > traffic.jsonl
import subprocess, re, time, sys, json
port = sys.argv[1]; dur = int(sys.argv[2])
prev = {}
names = {}
def name(pid):
    if pid not in names:
        try:
            cmd = open(f'/proc/{pid}/cmdline','rb').read().split(b'\0')
            names[pid] = ' '.join(c.decode() for c in cmd[-3:] if c)[-50:]
        except Exception: names[pid] = str(pid)
    return names[pid]
t0 = time.time()
while time.time() - t0 < dur:
    out = subprocess.run(['ss','-tnpiH','state','established',f'( dport = :{port} )'],capture_output=True,text=True).stdout
    # lines come in pairs: socket line, then info line
    lines = out.splitlines(); agg = {}; cur = None
    for l in lines:
        m = re.search(r'127\.0\.0\.1:(\d+)\s+127\.0\.0\.1:%s.*pid=(\d+)' % port, l)
        if m: cur = (m.group(1), m.group(2)); continue
        if cur:
            s = re.search(r'bytes_sent:(\d+)', l); r = re.search(r'bytes_received:(\d+)', l)
            sent = int(s.group(1)) if s else 0; recv = int(r.group(1)) if r else 0
            key = cur; p = prev.get(key, (0,0)); prev[key] = (sent, recv)
            n = name(cur[1]); a = agg.setdefault(n, [0,0,0]); a[0] += sent - p[0]; a[1] += recv - p[1]; a[2] += 1
            cur = None
    print(json.dumps({'t': round(time.time()), 'perProcess': agg}), flush=True)
    time.sleep(10)
