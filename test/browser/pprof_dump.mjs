// Decodes a gzip-compressed pprof profile with the independent pprof-format package
// and prints it as JSON with every string index resolved, for test/e2e/test_formats.py.
// usage: node pprof_dump.mjs FILE.pb.gz
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';

const raw = readFileSync(process.argv[2]);
const prof = Profile.decode(gunzipSync(raw));
const strings = prof.stringTable.strings;
const num = (v) => (typeof v === 'bigint' ? (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()) : v);
const s = (i) => {
  const n = Number(i);
  if (!Number.isInteger(n) || n < 0 || n >= strings.length) throw new Error(`string index ${i} out of range`);
  return strings[n];
};
const vt = (v) => ({ type: s(v.type), unit: s(v.unit) });

const out = {
  stringTable0: strings[0],
  sampleType: prof.sampleType.map(vt),
  periodType: prof.periodType ? vt(prof.periodType) : null,
  period: num(prof.period),
  timeNanos: num(prof.timeNanos),
  durationNanos: num(prof.durationNanos),
  defaultSampleType: s(prof.defaultSampleType),
  comment: prof.comment.map(s),
  mapping: prof.mapping.map((m) => ({
    id: num(m.id), start: num(m.memoryStart), limit: num(m.memoryLimit), offset: num(m.fileOffset),
    filename: s(m.filename), buildId: s(m.buildId),
  })),
  location: prof.location.map((l) => ({
    id: num(l.id), mappingId: num(l.mappingId), address: num(l.address),
    line: l.line.map((ln) => ({ functionId: num(ln.functionId), line: num(ln.line) })),
  })),
  function: prof.function.map((f) => ({
    id: num(f.id), name: s(f.name), systemName: s(f.systemName), filename: s(f.filename),
    startLine: num(f.startLine),
  })),
  sample: prof.sample.map((x) => ({
    locationId: x.locationId.map(num), value: x.value.map(num),
    label: x.label.map((l) => ({ key: s(l.key), str: l.str ? s(l.str) : null, num: num(l.num) })),
  })),
};
process.stdout.write(JSON.stringify(out));
