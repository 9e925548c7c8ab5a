# Issue 20 investigation (not part of npm test): mongo-java-server's CPU every 10 s, split by JVM thread
# (/proc/<pid>/task/*/stat, thread names with digits folded: "VM Thread" and "GC Thread#n" are the
# collector with -XX:+UseSerialGC, "nioEventLoopGroup-n-m" the request workers), plus the heap from
# `jstat -gc` (old generation used/capacity, young and full collections and their seconds). Follows
# the server across its restart (a new pid). One JSON line per sample, deltas since the previous one:
# {"t", "pid", "cpuSeconds", "byThread": {name: seconds}, "gc": {...}}
# Usage: python3 bench/mongo-cpu-sampler.py SECONDS > cpu.jsonl
import json, os, re, subprocess, sys, time

TCK = os.sysconf('SC_CLK_TCK')
dur = int(sys.argv[1])

def mongo_pids():
    out = []
    for p in os.listdir('/proc'):
        if not p.isdigit(): continue
        try: cmd = open(f'/proc/{p}/cmdline', 'rb').read()
        except OSError: continue
        if b'MongoServerMain' in cmd and cmd.startswith(b'java'): out.append(int(p))
    return out

def threads(pid):
    agg = {}
    try: tids = os.listdir(f'/proc/{pid}/task')
    except OSError: return agg
    for tid in tids:
        try: st = open(f'/proc/{pid}/task/{tid}/stat').read()
        except OSError: continue
        name = re.sub(r'\d+', 'n', st[st.index('(') + 1:st.rindex(')')])
        f = st[st.rindex(')') + 2:].split(' ')
        agg[name] = agg.get(name, 0) + int(f[11]) + int(f[12])
    return agg

def gc(pid):
    try:
        out = subprocess.run(['jstat', '-gc', str(pid)], capture_output=True, text=True, timeout=8).stdout.split('\n')
        h, v = out[0].split(), [float(x) if x != '-' else 0.0 for x in out[1].split()]
        d = dict(zip(h, v))
        return {'oldUsedMb': round(d['OU'] / 1024, 1), 'oldCapMb': round(d['OC'] / 1024, 1), 'youngGc': int(d['YGC']), 'fullGc': int(d['FGC']), 'gcSeconds': d['GCT']}
    except Exception:
        return None

prev = {}
prev_gc = {}
t0 = time.time()
while time.time() - t0 < dur:
    for pid in mongo_pids():
        cur = threads(pid)
        before = prev.get(pid, {})
        by = {k: round((v - before.get(k, 0)) / TCK, 2) for k, v in cur.items() if v - before.get(k, 0) > 0}
        prev[pid] = cur
        g = gc(pid)
        line = {'t': round(time.time(), 1), 'pid': pid, 'cpuSeconds': round(sum(by.values()), 2), 'byThread': dict(sorted(by.items(), key=lambda kv: -kv[1])[:8])}
        if g:
            pg = prev_gc.get(pid)
            g['gcSecondsDelta'] = round(g['gcSeconds'] - (pg['gcSeconds'] if pg else 0), 3)
            g['fullGcDelta'] = g['fullGc'] - (pg['fullGc'] if pg else 0)
            prev_gc[pid] = g
            line['gc'] = g
        print(json.dumps(line), flush=True)
    time.sleep(10)
