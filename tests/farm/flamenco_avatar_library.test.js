// The Flamenco job type's compileJob, under Node's own test runner (node --test), with small
// fakes of Flamenco's `author` and `job` objects. Pure logic: nothing is installed.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");

const script = path.join(__dirname, "..", "..", "scripts", "farm", "flamenco",
                         "avatar_library.js");
const { JOB_TYPE, compileJob, chunkStarts } = require(script);

function fakeAuthor() {
  return {
    Task(name, type) {
      return {
        name, type, commands: [], dependencies: [],
        addCommand(cmd) { this.commands.push(cmd); },
        addDependency(task) { this.dependencies.push(task); },
      };
    },
    Command(name, parameters) { return { name, parameters }; },
  };
}

function fakeJob(settings) {
  const defaults = Object.fromEntries(
    JOB_TYPE.settings.filter((s) => s.default !== undefined).map((s) => [s.key, s.default]));
  return {
    settings: { ...defaults, manifest: "/studio/cast.csv", library_dir: "/studio/lib",
                addon_dir: "/studio/avatar_importer", ...settings },
    tasks: [],
    addTask(task) { this.tasks.push(task); },
  };
}

test.beforeEach(() => { globalThis.author = fakeAuthor(); });

test("job type declares its settings once, with no secret among them", () => {
  const keys = JOB_TYPE.settings.map((s) => s.key);
  assert.deepEqual(keys, ["manifest", "library_dir", "addon_dir", "max_rows", "rows_per_task",
                          "service", "base_url", "blender_command"]);
  assert.equal(new Set(keys).size, keys.length);
  assert.ok(!keys.some((k) => /secret|token|password|client_id/i.test(k)));
});

test("one task per chunk of rows, then the crowd after all of them", () => {
  const job = fakeJob({ max_rows: 7, rows_per_task: 3, service: "sandbox",
                        base_url: "http://127.0.0.1:8765/" });
  compileJob(job);
  assert.deepEqual(job.tasks.map((t) => t.name),
                   ["avatars-1-3", "avatars-4-6", "avatars-7-7", "assemble-crowd"]);
  const [first, , last, crowd] = job.tasks;
  const cmd = first.commands[0];
  assert.equal(cmd.name, "exec");
  assert.equal(cmd.parameters.exe, "{blender}");
  assert.deepEqual(cmd.parameters.args, [
    "-b", "-y", "-P", "/studio/avatar_importer/scripts/batch_import.py", "--",
    "--service", "sandbox", "--base-url", "http://127.0.0.1:8765/",
    "--manifest", "/studio/cast.csv", "--library", "/studio/lib",
    "--rows", "1", "--rows-per-task", "3"]);
  assert.deepEqual(last.commands[0].parameters.args.slice(-4),
                   ["--rows", "7", "--rows-per-task", "3"]);
  assert.deepEqual(crowd.dependencies, job.tasks.slice(0, 3));
  assert.deepEqual(crowd.commands[0].parameters.args.slice(4),
                   ["--", "--library", "/studio/lib", "--assemble", "/studio/lib/crowd.blend"]);
  assert.ok(job.tasks.slice(0, 3).every((t) => t.dependencies.length === 0));
});

test("an empty base URL is left out; a custom Blender command is split", () => {
  const job = fakeJob({ max_rows: 2, rows_per_task: 10,
                        blender_command: "/opt/venv/bin/python" });
  compileJob(job);
  assert.equal(job.tasks.length, 2);
  const { exe, args } = job.tasks[0].commands[0].parameters;
  assert.equal(exe, "/opt/venv/bin/python");
  assert.equal(args[0], "/studio/avatar_importer/scripts/batch_import.py");
  assert.ok(!args.includes("--base-url"));
  assert.deepEqual(args.slice(2, 4), ["--service", "avatarsdk"]);
});

test("bad settings are refused with a message naming them", () => {
  assert.throws(() => compileJob(fakeJob({ rows_per_task: 0 })), /rows_per_task/);
  assert.throws(() => compileJob(fakeJob({ max_rows: -1 })), /max_rows/);
  assert.throws(() => compileJob(fakeJob({ service: "other" })), /unknown service "other"/);
  assert.throws(() => compileJob(fakeJob({ manifest: "" })), /"manifest" is required/);
  assert.throws(() => compileJob(fakeJob({ blender_command: "  " })), /blender_command/);
});

test("chunk starts cover every row once", () => {
  assert.deepEqual(chunkStarts(7, 3), [1, 4, 7]);
  assert.deepEqual(chunkStarts(6, 3), [1, 4]);
  assert.deepEqual(chunkStarts(1, 50), [1]);
  for (const [rows, per] of [[50, 7], [100, 10], [13, 1]]) {
    const covered = chunkStarts(rows, per).flatMap(
      (s) => Array.from({ length: Math.min(per, rows - s + 1) }, (_, i) => s + i));
    assert.deepEqual(covered, Array.from({ length: rows }, (_, i) => i + 1));
  }
});
