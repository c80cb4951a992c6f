-- Starts `moecode serve --stdio` (one client per root), attaches buffers, restarts crashes.
local config = require('moecode.config')
local util = require('moecode.util')

local M = {}

-- root directory -> entry:
--   root, client_id, buffers ({[bufnr] = true}), started_at (ms), status (last
--   moecode/status params), progress (last $/progress value), last_error, last_message (the
--   last window/showMessage, any type), exits (list of {code, signal}), failures (crashes in
--   the current streak), delays (every restart delay scheduled, ms), restarts (total),
--   notified, gave_up, timer, stopping, relaunch
local entries = {}
local opts -- the options of the last setup()
local missing_notified = false

local function client_of(entry)
  if not entry.client_id then
    return nil
  end
  local client = vim.lsp.get_client_by_id(entry.client_id)
  if client and not util.call(client, 'is_stopped') then
    return client
  end
  return nil
end

--- The root of `bufnr`: the nearest ancestor with a marker, else the file's directory.
function M.find_root(bufnr)
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == '' then
    return nil
  end
  local dir = vim.fn.fnamemodify(name, ':p:h')
  local d = dir
  while true do
    for _, marker in ipairs(opts.root_markers) do
      local p = d .. '/' .. marker
      if vim.fn.isdirectory(p) == 1 or vim.fn.filereadable(p) == 1 then
        return d
      end
    end
    local parent = vim.fn.fnamemodify(d, ':h')
    if parent == d then
      return dir
    end
    d = parent
  end
end

local function capabilities()
  local caps = vim.lsp.protocol.make_client_capabilities()
  caps.textDocument = caps.textDocument or {}
  -- Ours (0.7-0.11) or Neovim's own (0.12+): either way the client asks for it.
  caps.textDocument.inlineCompletion = caps.textDocument.inlineCompletion or { dynamicRegistration = false }
  -- Neovim applies documentChanges (versioned edits, file creation) but does not say so (0.7 to
  -- 0.11 at least); moecode.translate needs it to create its file, and fixes then carry the
  -- buffer version.
  caps.workspace = caps.workspace or {}
  caps.workspace.workspaceEdit = caps.workspace.workspaceEdit or {}
  caps.workspace.workspaceEdit.documentChanges = true
  return caps
end

-- A file created with its text (documentChanges: create it, then insert into the new, empty
-- file; moecode.translate sends that): Neovim (0.7.2) would create the file empty, load it,
-- insert the text and leave the buffer unsaved with an extra empty last line, and a buffer of
-- the file that was loaded already would keep its old text with the new inserted before it. Write the file and reload such a
-- buffer instead. Returns the ApplyWorkspaceEditResult, or nil for any other edit.
local function create_with_text(edit)
  local changes = type(edit) == 'table' and edit.documentChanges
  if type(changes) ~= 'table' or #changes ~= 2 then
    return nil
  end
  local create, change = changes[1], changes[2]
  if type(create) ~= 'table' or create.kind ~= 'create' or type(change) ~= 'table' or change.kind ~= nil
      or type(change.textDocument) ~= 'table' or change.textDocument.uri ~= create.uri then
    return nil
  end
  local text = {}
  for _, e in ipairs(change.edits or {}) do
    local s, en = e.range.start, e.range['end']
    if s.line ~= 0 or s.character ~= 0 or en.line ~= 0 or en.character ~= 0 then
      return nil
    end
    text[#text + 1] = e.newText
  end
  local fname = vim.uri_to_fname(create.uri)
  local o = create.options or {}
  if (vim.uv or vim.loop).fs_stat(fname) and not o.overwrite then
    if o.ignoreIfExists then
      return nil -- edit the existing file: Neovim's own way
    end
    return { applied = false, failureReason = fname .. ' exists' }
  end
  vim.fn.mkdir(vim.fn.fnamemodify(fname, ':h'), 'p')
  local f, why = io.open(fname, 'wb')
  if not f then
    return { applied = false, failureReason = 'cannot write ' .. fname .. ': ' .. tostring(why) }
  end
  f:write(table.concat(text))
  f:close()
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) and vim.api.nvim_buf_get_name(buf) == fname then
      vim.api.nvim_buf_call(buf, function() vim.cmd('silent edit!') end)
    end
  end
  return { applied = true }
end

local function fire_status_event()
  vim.cmd('doautocmd <nomodeline> User MoecodeStatus')
end

local function handlers(entry)
  return {
    ['moecode/status'] = function(_, params)
      entry.status = params
      fire_status_event()
    end,
    ['$/progress'] = function(err, result, ctx, cfg)
      if result and type(result.value) == 'table' then
        entry.progress = result.value
        fire_status_event()
      end
      return vim.lsp.handlers['$/progress'](err, result, ctx, cfg)
    end,
    ['window/showMessage'] = function(err, result, ctx, cfg)
      if result and result.type == 1 then
        entry.last_error = result.message
      end
      if result then
        entry.last_message = result.message
      end
      return vim.lsp.handlers['window/showMessage'](err, result, ctx, cfg)
    end,
    ['workspace/applyEdit'] = function(err, result, ctx, cfg)
      local done = create_with_text(type(result) == 'table' and result.edit or nil)
      if done then
        return done
      end
      return vim.lsp.handlers['workspace/applyEdit'](err, result, ctx, cfg)
    end,
  }
end

local function is_crash(code, signal)
  return code ~= 0 or (signal ~= 0 and signal ~= 15) -- Neovim's own test for "quit" warnings
end

-- Neovim itself warns "Client N quit with exit code C and signal S" on every crash; we
-- tell the user once per streak instead, so that warning is swallowed. Called from the
-- libuv exit callback (no API calls here): Neovim schedules its warning just before
-- (0.10+) or just after (0.7-0.9) it calls our on_exit, and the filter stays for both.
local function swallow_quit_warning(client_id)
  local orig = vim.notify
  local function filter(msg, ...)
    if type(msg) == 'string' then
      local who = msg:match('^Client (%S+) quit with exit code')
      if who == tostring(client_id) or who == 'moecode' then
        return
      end
    end
    return orig(msg, ...)
  end
  vim.notify = filter
  vim.schedule(function()
    vim.schedule(function()
      if vim.notify == filter then
        vim.notify = orig
      end
    end)
  end)
end

local launch

local function on_crash(entry, code, signal)
  local r = opts.restart
  local now = util.now_ms()
  if entry.started_at and now - entry.started_at >= r.stable_ms then
    entry.failures = 0
    entry.notified = false
  end
  entry.failures = entry.failures + 1
  if entry.failures > r.max_restarts then
    entry.gave_up = true
    util.notify(string.format('the server for %s crashed %d times in a row; not restarting it again '
      .. '(:MoecodeRestart starts it, :MoecodeStatus says more)', entry.root, entry.failures - 1),
      vim.log.levels.ERROR)
    return
  end
  local delay = math.min(r.base_ms * 2 ^ (entry.failures - 1), r.max_ms)
  entry.delays[#entry.delays + 1] = delay
  if not entry.notified then
    entry.notified = true
    util.notify(string.format('the server stopped (exit code %s, signal %s); restarting it in %d s, '
      .. 'then with backoff if it stops again (:MoecodeStatus)', tostring(code), tostring(signal),
      math.floor(delay / 1000 + 0.5)), vim.log.levels.WARN)
  end
  entry.timer = vim.defer_fn(function()
    entry.timer = nil
    if vim.v.exiting ~= vim.NIL or entry.gave_up or client_of(entry) then
      return
    end
    entry.restarts = entry.restarts + 1
    if not launch(entry) and next(entry.buffers) ~= nil then
      on_crash(entry, 'none (it did not start)', 'none') -- e.g. the binary is being rebuilt: try again later
    end
  end, delay)
end

local function on_exit(entry, client_id, code, signal)
  if entry.client_id ~= client_id then
    return -- an older client of this root
  end
  entry.client_id = nil
  entry.exits[#entry.exits + 1] = { code = code, signal = signal }
  require('moecode.ghost').client_exited(client_id)
  fire_status_event()
  local intended = entry.stopping or vim.v.exiting ~= vim.NIL
  entry.stopping = false
  if entry.relaunch then
    entry.relaunch = false
    launch(entry)
    return
  end
  if intended or not is_crash(code, signal) then
    return -- :MoecodeRestart, :LspStop, Neovim exiting, or a clean shutdown
  end
  on_crash(entry, code, signal)
end

local function lsp_config(entry)
  local settings = config.server_settings(opts)
  return {
    name = 'moecode',
    cmd = config.command(opts),
    cmd_cwd = entry.root,
    cmd_env = opts.cmd_env,
    root_dir = entry.root,
    workspace_folders = { { uri = vim.uri_from_fname(entry.root), name = entry.root } },
    init_options = settings,
    settings = { moecode = settings },
    capabilities = capabilities(),
    handlers = handlers(entry),
    on_exit = function(code, signal, client_id)
      -- Called from a libuv callback: only plain Lua here, the work on the main loop.
      if entry.client_id == client_id and not entry.stopping and is_crash(code, signal) then
        swallow_quit_warning(client_id)
      end
      vim.schedule(function()
        on_exit(entry, client_id, code, signal)
      end)
    end,
  }
end

local function live_buffers(entry)
  local out = {}
  for bufnr in pairs(entry.buffers) do
    if vim.api.nvim_buf_is_valid(bufnr) and vim.api.nvim_buf_is_loaded(bufnr) then
      out[#out + 1] = bufnr
    else
      entry.buffers[bufnr] = nil
    end
  end
  table.sort(out)
  return out
end

-- Starts the server for `entry` and attaches its buffers; returns the client id or nil.
launch = function(entry)
  local buffers = live_buffers(entry)
  if #buffers == 0 then
    entries[entry.root] = nil
    return nil
  end
  local cmd = config.command(opts)
  if vim.fn.executable(cmd[1]) ~= 1 then
    entry.last_error = 'the moecode binary was not found: ' .. cmd[1]
    if not missing_notified then
      missing_notified = true
      util.notify(entry.last_error .. " (put moecode on $PATH or pass setup{ path = '/path/to/moecode' })",
        vim.log.levels.ERROR)
    end
    return nil
  end
  local cfg = lsp_config(entry)
  local id
  if vim.lsp.start then
    -- One client per root is kept here, so never let vim.lsp.start reuse another one.
    id = vim.api.nvim_buf_call(buffers[1], function()
      return vim.lsp.start(cfg, { bufnr = buffers[1], reuse_client = function() return false end })
    end)
  else
    id = vim.lsp.start_client(cfg)
    if id then
      vim.lsp.buf_attach_client(buffers[1], id)
    end
  end
  if not id then
    entry.last_error = 'the server did not start: ' .. table.concat(cmd, ' ')
    return nil
  end
  entry.client_id = id
  entry.started_at = util.now_ms()
  for i = 2, #buffers do
    vim.lsp.buf_attach_client(buffers[i], id)
  end
  fire_status_event()
  return id
end

local function new_entry(root)
  local entry = {
    root = root, buffers = {}, exits = {}, delays = {}, failures = 0, restarts = 0,
    notified = false, gave_up = false, stopping = false, relaunch = false,
  }
  entries[root] = entry
  return entry
end

--- Sets the options the next launches use (from setup()).
function M.configure(new_opts)
  local old = opts
  opts = new_opts
  if not old then
    return
  end
  local settings = config.server_settings(opts)
  local cmd_changed = not vim.deep_equal(config.command(old), config.command(opts))
  for _, entry in pairs(entries) do
    local client = client_of(entry)
    if client and cmd_changed then
      M.restart(entry.root)
    elseif client then
      client.config.settings = { moecode = settings }
      util.call(client, 'notify', 'workspace/didChangeConfiguration', { settings = { moecode = settings } })
    end
  end
end

--- Attaches `bufnr` to the server of its root, starting that server when needed.
function M.attach(bufnr)
  if not opts or not vim.api.nvim_buf_is_valid(bufnr) or vim.bo[bufnr].buftype ~= '' then
    return nil
  end
  local root = M.find_root(bufnr)
  if not root then
    return nil
  end
  local entry = entries[root] or new_entry(root)
  entry.buffers[bufnr] = true
  if entry.gave_up or entry.timer then
    return nil -- attached when the restart comes (or :MoecodeRestart)
  end
  local client = client_of(entry)
  if client then
    if not vim.lsp.buf_is_attached(bufnr, client.id) then
      vim.lsp.buf_attach_client(bufnr, client.id)
    end
    return client.id
  end
  return launch(entry)
end

--- Forgets a buffer that was wiped out.
function M.detach(bufnr)
  for _, entry in pairs(entries) do
    entry.buffers[bufnr] = nil
  end
end

--- The entry whose buffers include `bufnr` (nil when none).
function M.entry_of(bufnr)
  if bufnr == nil or bufnr == 0 then
    bufnr = vim.api.nvim_get_current_buf()
  end
  for _, entry in pairs(entries) do
    if entry.buffers[bufnr] then
      return entry
    end
  end
  return nil
end

--- The initialized client serving `bufnr`, or nil.
function M.get(bufnr)
  if bufnr == nil or bufnr == 0 then
    bufnr = vim.api.nvim_get_current_buf()
  end
  local entry = M.entry_of(bufnr)
  local client = entry and client_of(entry)
  if client and client.initialized and vim.lsp.buf_is_attached(bufnr, client.id) then
    return client
  end
  return nil
end

--- Every root's entry (for :MoecodeStatus, health and tests), sorted by root.
function M.entries()
  local out = {}
  for _, e in pairs(entries) do
    out[#out + 1] = e
  end
  table.sort(out, function(a, b) return a.root < b.root end)
  return out
end

--- The client of an entry (nil when it is not running).
M.client_of = client_of

--- The process id of the server of `entry`, or nil. Neovim 0.7-0.9 keep it in client.rpc;
--- later versions don't expose it, so there it is the child process whose working directory
--- is the root (Linux /proc).
function M.pid(entry)
  local client = client_of(entry)
  if not client then
    return nil
  end
  if client.rpc and type(client.rpc.pid) == 'number' then
    return client.rpc.pid
  end
  local best
  for _, pid in ipairs(vim.api.nvim_get_proc_children(vim.fn.getpid())) do
    local cwd = (vim.uv or vim.loop).fs_readlink('/proc/' .. pid .. '/cwd')
    if cwd == entry.root and (not best or pid > best) then
      best = pid
    end
  end
  return best
end

--- Stops and starts the server of `root` (every root when nil); clears the crash count.
function M.restart(root)
  for _, entry in pairs(entries) do
    if root == nil or entry.root == root then
      if entry.timer then
        entry.timer:stop()
        entry.timer = nil
      end
      entry.failures, entry.notified, entry.gave_up = 0, false, false
      local client = client_of(entry)
      if client then
        entry.stopping, entry.relaunch = true, true
        util.call(client, 'stop')
        local id = client.id
        vim.defer_fn(function() -- a server that ignores shutdown is killed
          local c = vim.lsp.get_client_by_id(id)
          if c and not util.call(c, 'is_stopped') then
            util.call(c, 'stop', true)
          end
        end, 3000)
      else
        launch(entry)
      end
    end
  end
end

--- Stops every server (no restart).
function M.stop_all()
  for _, entry in pairs(entries) do
    if entry.timer then
      entry.timer:stop()
      entry.timer = nil
    end
    local client = client_of(entry)
    if client then
      entry.stopping = true
      util.call(client, 'stop')
    end
  end
end

return M
