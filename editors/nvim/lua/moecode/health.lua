-- :checkhealth moecode: binary, version, model, a trial server start, the running servers.
local M = {}

local config = require('moecode.config')
local uv = vim.uv or vim.loop

-- vim.health (0.8+; start/ok/... from 0.10, report_* before) or 0.7's require('health').
local function reporter()
  local h = vim.health or require('health')
  return {
    start = h.start or h.report_start,
    ok = h.ok or h.report_ok,
    info = h.info or h.report_info,
    warn = h.warn or h.report_warn,
    error = h.error or h.report_error,
  }
end

local function encode(msg)
  local body = vim.json.encode(msg)
  return string.format('Content-Length: %d\r\n\r\n%s', #body, body)
end

-- Starts `cmd`, sends initialize, waits for its answer, then shutdown + exit. Returns
-- (initialize result, nil) or (nil, why).
local function trial_start(cmd, root, timeout_ms)
  local stdin, stdout, stderr = uv.new_pipe(false), uv.new_pipe(false), uv.new_pipe(false)
  local buf, err_text = '', ''
  local responses = {}
  local exited, exit_code
  local args = {}
  for i = 2, #cmd do
    args[#args + 1] = cmd[i]
  end
  local handle, pid = uv.spawn(cmd[1], { args = args, stdio = { stdin, stdout, stderr }, cwd = root },
    function(code)
      exited, exit_code = true, code
    end)
  if not handle then
    return nil, 'could not start ' .. cmd[1] .. ': ' .. tostring(pid)
  end
  stdout:read_start(function(_, data)
    if not data then
      return
    end
    buf = buf .. data
    while true do
      local hend = buf:find('\r\n\r\n', 1, true)
      if not hend then
        break
      end
      local len = tonumber(buf:sub(1, hend):match('Content%-Length: *(%d+)'))
      if not len or #buf < hend + 3 + len then
        break
      end
      local body = buf:sub(hend + 4, hend + 3 + len)
      buf = buf:sub(hend + 4 + len)
      local ok, msg = pcall(vim.json.decode, body)
      if ok and type(msg) == 'table' and msg.id ~= nil then
        responses[msg.id] = msg
      end
    end
  end)
  stderr:read_start(function(_, data)
    if data then
      err_text = err_text .. data
    end
  end)
  stdin:write(encode({
    jsonrpc = '2.0', id = 1, method = 'initialize',
    params = {
      processId = uv.getpid(), rootUri = vim.NIL, capabilities = vim.empty_dict(),
      clientInfo = { name = 'moecode-checkhealth' },
    },
  }))
  vim.wait(timeout_ms, function() return responses[1] ~= nil or exited end, 20)
  local init = responses[1]
  if init then
    stdin:write(encode({ jsonrpc = '2.0', id = 2, method = 'shutdown' }))
    vim.wait(timeout_ms, function() return responses[2] ~= nil or exited end, 20)
    stdin:write(encode({ jsonrpc = '2.0', method = 'exit' }))
    vim.wait(timeout_ms, function() return exited end, 20)
  end
  if not exited then
    handle:kill(9)
    vim.wait(1000, function() return exited end, 20)
  end
  for _, p in ipairs({ stdin, stdout, stderr }) do
    if not p:is_closing() then
      p:close()
    end
  end
  if not handle:is_closing() then
    handle:close()
  end
  if not init then
    local why = exited and ('it exited with code ' .. tostring(exit_code)) or 'no answer in time'
    local last = vim.trim(err_text):match('[^\n]*$') or ''
    return nil, why .. (last ~= '' and (': ' .. last) or '')
  end
  if init.error then
    return nil, 'initialize failed: ' .. tostring(init.error.message)
  end
  return init.result, nil, exit_code
end

function M.check()
  local h = reporter()
  local moecode = require('moecode')
  local opts = moecode.options()

  h.start('moecode: setup')
  local v = vim.version()
  h.info(string.format('Neovim %d.%d.%d; ghost text: %s', v.major, v.minor, v.patch,
    require('moecode.ghost').style()))
  if opts then
    h.ok('setup() was called')
  else
    h.warn("setup() has not been called: the checks use the defaults",
      { "add require('moecode').setup{} to your config" })
    opts = config.build({})
  end

  h.start('moecode: server binary')
  local cmd = config.command(opts)
  local bin = cmd[1]
  if vim.fn.executable(bin) ~= 1 then
    h.error('binary not found: ' .. bin,
      { "build moecode (scripts/setup) and put build/bin on $PATH, or pass setup{ path = '/path/to/moecode' }" })
    return
  end
  h.ok('binary: ' .. vim.fn.exepath(bin))
  local out = vim.fn.system({ bin, '--version' })
  if vim.v.shell_error ~= 0 then
    h.error(string.format("'%s --version' failed (exit code %d): %s", bin, vim.v.shell_error, vim.trim(out)))
  else
    h.ok('version: ' .. (vim.trim(out):match('^[^\n]*') or ''))
  end

  h.start('moecode: model')
  local root = vim.fn.getcwd()
  local model, source = config.model_path(opts, root)
  local has_m = false
  for i = 1, #cmd do
    if cmd[i] == '-m' or cmd[i] == '--model' then
      has_m = true
      model, source = cmd[i + 1], 'the command line'
    end
  end
  if model and vim.fn.filereadable(model) == 1 then
    h.ok(string.format('model: %s (%s, %.0f MB)', model, source, vim.fn.getfsize(model) / 1e6))
  elseif has_m or (opts.settings.model and opts.settings.model ~= '') then
    h.error('model file not found: ' .. tostring(model), { 'fix settings.model (or -m in cmd)' })
  else
    h.warn('no model found (looked at ' .. source .. '): completions stay empty',
      { 'run scripts/setup for the default model, set $MOECODE_MODEL, or settings.model' })
  end

  h.start('moecode: server start')
  local result, why = trial_start(cmd, root, 10000)
  if not result then
    h.error('the server did not initialize: ' .. why)
  else
    local caps = result.capabilities or {}
    local info = result.serverInfo or {}
    h.ok(string.format('`%s` initializes (%s %s)', table.concat(cmd, ' '), tostring(info.name), tostring(info.version)))
    if caps.inlineCompletionProvider then
      h.ok('the server offers inline completion')
    else
      h.error('the server does not offer textDocument/inlineCompletion')
    end
  end

  h.start('moecode: running servers')
  local entries = require('moecode.client').entries()
  if #entries == 0 then
    h.info('none (a buffer of one of the filetypes starts one)')
  end
  for _, e in ipairs(entries) do
    local client = require('moecode.client').client_of(e)
    local st = e.status
    if not client then
      h.warn(e.root .. ': not running' .. (e.gave_up and ' (stopped after repeated crashes; :MoecodeRestart)' or ''))
    elseif st and st.state == 'ready' then
      h.ok(string.format('%s: client %d, ready (%s on %s)', e.root, client.id, tostring(st.model), tostring(st.backend)))
    elseif st and (st.state == 'noModel' or st.state == 'error') then
      h.warn(string.format('%s: client %d, %s: %s', e.root, client.id, st.state, tostring(st.message)))
    else
      h.info(string.format('%s: client %d, %s', e.root, client.id, st and tostring(st.state) or 'starting'))
    end
    if e.last_error then
      h.warn(e.root .. ': last error: ' .. e.last_error)
    end
  end
end

return M
