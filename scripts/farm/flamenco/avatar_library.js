// Flamenco job type "Avatar Library": a manifest of people in, an avatar asset library out.
//
// Install: copy this file into the `scripts` folder next to the flamenco-manager executable
// (create it if needed) and restart the Manager; the job type is then offered for new jobs.
// The same two stages as scripts/farm/openjd/avatar_library.yaml:
//   1. one task per chunk of `rows_per_task` manifest rows (batch_import.py --rows N
//      --rows-per-task K); a chunk past the manifest's last row finishes at once;
//   2. after every chunk: the crowd scene <library_dir>/crowd.blend and the catalogue
//      <library_dir>/library.json.
// Credentials come only from the Worker's environment (AVATARSDK_CLIENT_ID,
// AVATARSDK_CLIENT_SECRET, AVATURN_API_TOKEN); nothing secret is a setting of this job.
// The Manager cannot read the manifest, so `max_rows` says how many rows it has (or more).

const SERVICES = ["avatarsdk", "avaturn", "sandbox"];

const JOB_TYPE = {
  label: "Avatar Library",
  description: "Avatars for every row of a manifest, saved as assets, then a crowd scene.",
  settings: [
    { key: "manifest", type: "string", subtype: "file_path", required: true,
      description: "CSV (header row) or JSON list, one avatar per row" },
    { key: "library_dir", type: "string", subtype: "dir_path", required: true,
      description: "Asset library folder on the shared storage" },
    { key: "addon_dir", type: "string", subtype: "dir_path", required: true,
      description: "The avatar_importer project folder (holding scripts/batch_import.py)" },
    { key: "max_rows", type: "int32", default: 100, required: true,
      description: "At least the manifest's number of rows" },
    { key: "rows_per_task", type: "int32", default: 10, required: true,
      description: "Manifest rows per task" },
    { key: "service", type: "string", choices: SERVICES, default: "avatarsdk",
      required: true, description: "Avatar service (sandbox: the local emulator)" },
    { key: "base_url", type: "string", default: "",
      description: "The service's API base URL; empty for its default" },
    { key: "blender_command", type: "string", default: "{blender} -b -y -P",
      description: "What runs a Blender Python script ({blender} is the Manager's variable)" },
  ],
};

function chunkStarts(maxRows, perTask) {
  const starts = [];
  for (let start = 1; start <= maxRows; start += perTask) starts.push(start);
  return starts;
}

function splitCommand(text) {
  const parts = String(text).split(" ").filter((p) => p.length > 0);
  if (parts.length === 0) throw new Error("blender_command is empty");
  return { exe: parts[0], args: parts.slice(1) };
}

function batchCommand(settings, scriptArgs) {
  const cmd = splitCommand(settings.blender_command || "{blender} -b -y -P");
  const script = `${settings.addon_dir}/scripts/batch_import.py`;
  return author.Command("exec", {
    exe: cmd.exe,
    args: cmd.args.concat([script, "--"], scriptArgs),
  });
}

function checkSettings(settings) {
  for (const key of ["manifest", "library_dir", "addon_dir"]) {
    if (!settings[key]) throw new Error(`Avatar Library: the setting "${key}" is required`);
  }
  const perTask = Number(settings.rows_per_task);
  const maxRows = Number(settings.max_rows);
  if (!Number.isInteger(perTask) || perTask < 1) {
    throw new Error("Avatar Library: rows_per_task must be a whole number of at least 1");
  }
  if (!Number.isInteger(maxRows) || maxRows < 1) {
    throw new Error("Avatar Library: max_rows must be a whole number of at least 1");
  }
  if (!SERVICES.includes(settings.service)) {
    throw new Error(`Avatar Library: unknown service "${settings.service}"; choose one of ` +
                    SERVICES.join(", "));
  }
  return { perTask, maxRows };
}

function compileJob(job) {
  const settings = job.settings;
  const { perTask, maxRows } = checkSettings(settings);
  const serviceArgs = ["--service", settings.service];
  if (settings.base_url) serviceArgs.push("--base-url", settings.base_url);

  const chunkTasks = [];
  for (const start of chunkStarts(maxRows, perTask)) {
    const end = Math.min(start + perTask - 1, maxRows);
    const task = author.Task(`avatars-${start}-${end}`, "blender");
    task.addCommand(batchCommand(settings, serviceArgs.concat([
      "--manifest", settings.manifest, "--library", settings.library_dir,
      "--rows", String(start), "--rows-per-task", String(perTask),
    ])));
    job.addTask(task);
    chunkTasks.push(task);
  }

  const assemble = author.Task("assemble-crowd", "blender");
  assemble.addCommand(batchCommand(settings, [
    "--library", settings.library_dir,
    "--assemble", `${settings.library_dir}/crowd.blend`,
  ]));
  for (const task of chunkTasks) assemble.addDependency(task);
  job.addTask(assemble);
}

// Flamenco's job compiler runs this file as a script; Node's tests require() it.
if (typeof module !== "undefined" && module.exports) {
  module.exports = { JOB_TYPE, compileJob, chunkStarts, splitCommand };
}
