// The Go text/template engine behind --format (src/cli/template.ts).
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatValue, gFormat, goJSON, HEADER_FUNCS, METHODS, render, sprintf, STRUCT, Template, TemplateError } from '../../src/cli/template';

const inspect = {
  Id: 'abc123',
  Name: '/web',
  State: { Status: 'running', Running: true, Paused: false, ExitCode: 0, Pid: 42, Health: null as unknown },
  Config: {
    Env: ['FOO=bar', 'PATH=/bin'],
    Labels: { 'com.example.b': '2', 'com.example.a': '1' },
    Entrypoint: null as unknown,
    ExposedPorts: { '80/tcp': {} },
  },
  NetworkSettings: {
    IPAddress: '172.17.0.2',
    Networks: { zeta: { IPAddress: '10.0.0.2' }, bridge: { IPAddress: '172.17.0.2' } },
    Ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }] },
  },
  Mounts: [] as unknown[],
  RestartCount: 3,
  SizeRw: 1.5,
};

const r = (tmpl: string, data: unknown = inspect): string => render(tmpl, data);
const err = (tmpl: string, data: unknown = inspect): string => {
  try {
    render(tmpl, data);
  } catch (e) {
    assert.ok(e instanceof TemplateError, `not a TemplateError: ${String(e)}`);
    return e.message;
  }
  assert.fail(`expected an error for ${tmpl}`);
};

describe('template: fields and printing', () => {
  it('prints fields, nested fields and text', () => {
    assert.equal(r('{{.Name}}'), '/web');
    assert.equal(r('{{.State.Status}} {{.State.Running}} {{.State.Pid}}'), 'running true 42');
    assert.equal(r('id={{.Id}}!'), 'id=abc123!');
    assert.equal(r('no actions at all'), 'no actions at all');
    assert.equal(r(''), '');
  });

  it('missing map keys print <no value>', () => {
    assert.equal(r('{{.Nope}}'), '<no value>');
    assert.equal(r('{{.Config.Labels.missing}}'), '<no value>');
  });

  it('dotting into a missing key or a null is an error', () => {
    assert.equal(err('{{.State.Health.Status}}'), 'template: :1:8: executing "" at <.State.Health.Status>: nil pointer evaluating interface {}.Status');
    assert.equal(err('{{.State.Nope.Status}}'), 'template: :1:8: executing "" at <.State.Nope.Status>: map has no entry for key "Nope"');
    assert.equal(err('{{.Name.Foo}}'), 'template: :1:7: executing "" at <.Name.Foo>: can\'t evaluate field Foo in type string');
  });

  it('formats values like fmt %v', () => {
    assert.equal(r('{{.Config.Env}}'), '[FOO=bar PATH=/bin]');
    assert.equal(r('{{.Config.Labels}}'), 'map[com.example.a:1 com.example.b:2]');
    assert.equal(r('{{.Config.Entrypoint}}'), '[]', 'a null slice field prints like a Go nil slice');
    assert.equal(r('{{.State.Health}}'), '<nil>');
    assert.equal(r('{{.Mounts}}'), '[]');
    assert.equal(r('{{.SizeRw}}'), '1.5');
    assert.equal(formatValue(1e21), '1e+21');
    assert.equal(formatValue(0.00001), '1e-05');
    assert.equal(formatValue({ a: [1, { b: null }] }), 'map[a:[1 map[b:<nil>]]]');
  });

  it('dot, variables and $', () => {
    assert.equal(r('{{with .State}}{{.Status}}/{{$.Name}}{{end}}'), 'running//web');
    assert.equal(r('{{$n := .Name}}{{$n}}{{$n = "x"}}{{$n}}'), '/webx');
    assert.equal(r('{{.}}', 'plain'), 'plain');
    assert.equal(err('{{$undefined}}'), 'template: :1: undefined variable "$undefined"');
  });

  it('literals', () => {
    assert.equal(r('{{"a\\tb"}}|{{`raw\\n`}}|{{1}}|{{-2}}|{{1.5}}|{{0x10}}|{{true}}|{{\'a\'}}'), 'a\tb|raw\\n|1|-2|1.5|16|true|97');
    assert.equal(err('{{nil}}'), 'template: :1:2: executing "" at <nil>: nil is not a command');
  });

  it('trim markers and comments', () => {
    assert.equal(r('a  {{- .Name -}}  b'), 'a/webb');
    assert.equal(r('a {{/* a comment */}}b'), 'a b');
    assert.equal(r('a {{- /* trimmed */ -}} b'), 'ab');
    assert.equal(r('{{- .Name}}\n'), '/web\n');
    assert.equal(r('x\n{{- "y"}}'), 'xy');
  });
});

describe('template: control structures', () => {
  it('if / else if / else', () => {
    assert.equal(r('{{if .State.Running}}up{{else}}down{{end}}'), 'up');
    assert.equal(r('{{if .Mounts}}m{{else if .Config.Env}}e{{else}}none{{end}}'), 'e');
    assert.equal(r('{{if .Missing}}y{{else}}n{{end}}'), 'n');
    assert.equal(r('{{if 0}}y{{else}}n{{end}}{{if ""}}y{{else}}n{{end}}{{if .State}}y{{end}}'), 'nny');
  });

  it('with / else with', () => {
    assert.equal(r('{{with .Config.Labels}}{{index . "com.example.a"}}{{end}}'), '1');
    assert.equal(r('{{with .Mounts}}x{{else with .Name}}{{.}}{{end}}'), '/web');
    assert.equal(r('{{with $x := .Name}}{{$x}}{{end}}'), '/web');
  });

  it('range over arrays, maps (sorted keys) and integers', () => {
    assert.equal(r('{{range .Config.Env}}[{{.}}]{{end}}'), '[FOO=bar][PATH=/bin]');
    assert.equal(r('{{range $i, $e := .Config.Env}}{{$i}}={{$e}};{{end}}'), '0=FOO=bar;1=PATH=/bin;');
    assert.equal(r('{{range $k, $v := .NetworkSettings.Networks}}{{$k}}:{{$v.IPAddress}} {{end}}'), 'bridge:172.17.0.2 zeta:10.0.0.2 ');
    assert.equal(r('{{range .NetworkSettings.Networks}}{{.IPAddress}},{{end}}'), '172.17.0.2,10.0.0.2,');
    assert.equal(r('{{range $p, $conf := .NetworkSettings.Ports}}{{$p}} -> {{(index $conf 0).HostPort}}{{end}}'), '80/tcp -> 8080');
    assert.equal(r('{{range 3}}{{.}}{{end}}'), '012');
    assert.equal(r('{{range .Mounts}}x{{else}}empty{{end}}'), 'empty');
    assert.equal(r('{{range .Nope}}x{{else}}empty{{end}}'), 'empty');
    assert.equal(r('{{range $e := .Config.Env}}{{$e}} {{end}}'), 'FOO=bar PATH=/bin ');
  });

  it('break and continue', () => {
    assert.equal(r('{{range .Config.Env}}{{if eq . "PATH=/bin"}}{{break}}{{end}}{{.}}{{end}}'), 'FOO=bar');
    assert.equal(r('{{range .Config.Env}}{{if eq . "FOO=bar"}}{{continue}}{{end}}{{.}}{{end}}'), 'PATH=/bin');
  });

  it('range variables are scoped to the block', () => {
    assert.equal(err('{{range $i, $e := .Config.Env}}{{end}}{{$e}}'), 'template: :1: undefined variable "$e"');
  });

  it('define / template / block', () => {
    assert.equal(r('{{define "T"}}<{{.}}>{{end}}{{template "T" .Name}}{{template "T" "x"}}'), '</web><x>');
    assert.equal(r('{{block "B" .State.Status}}[{{.}}]{{end}}'), '[running]');
  });

  it('parse errors', () => {
    assert.equal(err('{{.Name'), 'template: :1: unclosed action');
    assert.equal(err('{{if .Name}}'), 'template: :1: unexpected EOF');
    assert.equal(err('{{end}}'), 'template: :1: unexpected {{end}}');
    assert.equal(err('{{nosuchfunc .Name}}'), 'template: :1: function "nosuchfunc" not defined');
    assert.equal(err('{{.Label"x"}}'), 'template: :1: bad character U+0022 \'"\'');
    assert.equal(err('a\n{{.Name'), 'template: :2: unclosed action');
  });
});

describe('template: functions', () => {
  it('comparison and logic', () => {
    assert.equal(r('{{eq .State.Status "running"}} {{ne .State.Pid 1}} {{eq 1 2 3 1}}'), 'true true true');
    assert.equal(r('{{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 2}}'), 'true true true false');
    assert.equal(r('{{and 1 "x"}} {{and 0 "x"}} {{or 0 ""}} {{or 0 "y"}} {{not .Mounts}}'), 'x 0  y true');
    assert.equal(r('{{eq .Missing nil}} {{ne .Name nil}}'), 'true true');
    assert.match(err('{{eq .State.Pid "42"}}'), /error calling eq: incompatible types for comparison$/);
    // and/or short-circuit: the failing index is never evaluated
    assert.equal(r('{{or .Name (index .Config.Env 99)}}'), '/web');
  });

  it('len, index, slice', () => {
    assert.equal(r('{{len .Config.Env}} {{len .Config.Labels}} {{len .Name}} {{len "é"}}'), '2 2 4 2');
    assert.equal(r('{{index .Config.Env 1}} {{index .Config.Labels "com.example.b"}}'), 'PATH=/bin 2');
    assert.equal(r('[{{index .Config.Labels "absent"}}]'), '[]', 'a string map yields "" for a missing key');
    assert.equal(r('{{index .NetworkSettings.Ports "80/tcp" 0 "HostPort"}}'), '8080');
    assert.equal(err('{{index .Config.Env 5}}'), 'template: :1:2: executing "" at <index .Config.Env 5>: error calling index: index out of range: 5');
    assert.equal(r('{{slice .Config.Env 1}} {{slice .Name 1 3}}'), '[PATH=/bin] we');
    assert.match(err('{{len .State.Pid}}'), /error calling len: len of type int/);
  });

  it('print, printf, println', () => {
    assert.equal(r('{{print "a" 1 2 "b" 3}}'), 'a1 2b3');
    assert.equal(r('{{println "a" 1}}'), 'a 1\n');
    assert.equal(r('{{printf "%s-%d-%v|%5s|%-5s|%05d|%.2f|%x|%q|%t|%%" "s" 7 .Config.Env "ab" "cd" 42 3.14159 255 "q" true}}'),
      's-7-[FOO=bar PATH=/bin]|   ab|cd   |00042|3.14|ff|"q"|true|%');
    assert.equal(sprintf('%d %s', [1]), '1 %!s(MISSING)');
    assert.equal(sprintf('%d', ['x']), '%!d(string=x)');
    assert.equal(sprintf('%s', ['a', 'b']), 'a%!(EXTRA string=b)');
    assert.equal(r('{{.Name | printf "%s!"}}'), '/web!');
    assert.equal(r('{{"x" | printf "%s-%s" "y"}}'), 'y-x');
  });

  it('docker functions: json, join, split, upper, lower, title, pad, truncate', () => {
    assert.equal(r('{{json .Config.Env}}'), '["FOO=bar","PATH=/bin"]');
    assert.equal(r('{{json .Config.Labels}}'), '{"com.example.a":"1","com.example.b":"2"}', 'Labels is a Go map: keys sorted');
    assert.equal(r('{{json .State}}'), '{"Status":"running","Running":true,"Paused":false,"ExitCode":0,"Pid":42,"Health":null}', 'struct order kept');
    assert.equal(r('{{json .Missing}}'), 'null');
    assert.equal(r('{{json "<&>"}}'), '"<&>"', 'no HTML escaping for plain values');
    assert.equal(r('{{join .Config.Env ","}}'), 'FOO=bar,PATH=/bin');
    assert.equal(r('{{join .Config.Labels ";"}}'), '1;2');
    assert.equal(r('{{split "a,b,c" ","}} {{index (split "a:b" ":") 1}}'), '[a b c] b');
    assert.equal(r('{{upper "abc"}} {{lower "ABC"}} {{title "hello wide-world"}}'), 'ABC abc Hello Wide-World');
    assert.equal(r('[{{pad "x" 2 1}}][{{pad "" 2 1}}] {{truncate "abcdef" 3}} {{truncate "ab" 3}}'), '[  x ][] abc ab');
    assert.match(err('{{upper 5}}'), /wrong type for value; expected string; got int/);
  });

  it('parenthesised pipelines and chains', () => {
    assert.equal(r('{{(index .NetworkSettings.Ports "80/tcp")}}'), '[map[HostIp:0.0.0.0 HostPort:8080]]');
    assert.equal(r('{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostIp}}'), '0.0.0.0');
    assert.equal(r('{{len (split .Name "/")}}'), '2');
  });

  it('goJSON escapes like Go (\\u0026 etc. only for formatter contexts)', () => {
    assert.equal(goJSON({ a: 'x\by' }), '{"a":"x\\u0008y"}');
    const ctx = { [STRUCT]: 'T', toJSON: () => ({ Ports: '0.0.0.0:80->80/tcp' }) };
    assert.equal(goJSON(ctx), '{"Ports":"0.0.0.0:80-\\u003e80/tcp"}');
  });
});

describe('template: struct values, methods and headers', () => {
  const row = {
    [STRUCT]: '*formatter.ContainerContext',
    ID: () => 'abc',
    Label: (k: unknown) => `label:${String(k)}`,
    Plain: 'field',
  };

  it('methods are called, with arguments', () => {
    assert.equal(r('{{.ID}} {{.Label "tier"}} {{.Plain}}', row), 'abc label:tier field');
    assert.equal(r('{{"x" | .Label}}', row), 'label:x');
  });

  it('a missing struct field is an error', () => {
    assert.equal(err('{{.Nope}}', row), 'template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type *formatter.ContainerContext');
  });

  it('header maps answer Label and keep header funcs intact', () => {
    const header: Record<string, unknown> = { ID: 'CONTAINER ID', Names: 'NAMES' };
    Object.defineProperty(header, METHODS, { value: { Label: (n: unknown) => String(n).split('.').pop()!.replace(/[-_]/g, ' ') } });
    const t = Template.parse('{{.ID}}\t{{upper .Names}}\t{{.Label "com.docker.compose_project"}}\t{{.Other}}');
    assert.equal(t.execute(header, { funcs: HEADER_FUNCS }), 'CONTAINER ID\tNAMES\tcompose project\t<no value>');
  });

  it('executePartial keeps output written before an error', () => {
    const t = Template.parse('a{{.Name}}b{{.Name.X}}c');
    const res = t.executePartial(inspect);
    assert.equal(res.out, 'a/webb');
    assert.ok(res.err);
  });
});

describe('gFormat (%.Ng)', () => {
  it('matches Go for sizes', () => {
    assert.equal(gFormat(1.984172, 3), '1.98');
    assert.equal(gFormat(4.26155, 3), '4.26');
    assert.equal(gFormat(100, 3), '100');
    assert.equal(gFormat(999.9, 3), '1e+03');
    assert.equal(gFormat(1048.576, 4), '1049');
    assert.equal(gFormat(1048576, 4), '1.049e+06');
    assert.equal(gFormat(0, 3), '0');
  });
});

describe('template: typed nils', () => {
  it('null slices and maps print like Go nil slices/maps but stay null in JSON', () => {
    const doc = { Config: { Entrypoint: null, Cmd: ['sh'], Labels: null, Healthcheck: null } };
    assert.equal(render('{{.Config.Entrypoint}}|{{.Config.Labels}}|{{.Config.Healthcheck}}|{{json .Config.Entrypoint}}|{{len .Config.Entrypoint}}', doc), '[]|map[]|<nil>|null|0');
    assert.equal(render('{{json .Config}}', doc), '{"Entrypoint":null,"Cmd":["sh"],"Labels":null,"Healthcheck":null}');
    assert.equal(render('{{if .Config.Entrypoint}}y{{else}}n{{end}}{{range .Config.Labels}}x{{end}}', doc), 'n');
  });
});
