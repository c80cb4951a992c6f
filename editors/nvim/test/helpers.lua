-- Test helpers: drive a child `nvim --embed --headless` over RPC like a user at a keyboard.
-- Each test file runs in its own `nvim --headless -u NONE -c 'luafile FILE'` (test/run.sh) and
-- ends through H.run(), which exits 0 on success and 1 on failure.
local H = {}

local uv = vim.uv or vim.loop

H.plugin_dir = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h:h')
H.binary = vim.env.MOECODE_BINARY or vim.fn.fnamemodify(H.plugin_dir .. '/../../build/bin/moecode', ':p')

local function log(msg)
  io.stdout:write(msg .. '\n')
  io.stdout:flush()
end
H.log = log

local children = {}
local tmpdirs = {}

--- A fresh temporary directory (removed at the end of the run).
function H.tmpdir()
  local dir = vim.fn.tempname() .. '-moecode'
  vim.fn.mkdir(dir, 'p')
  tmpdirs[#tmpdirs + 1] = dir
  return dir
end

--- Writes `lines` (a list or a string) to `path`, creating its directory.
function H.write(path, lines)
  vim.fn.mkdir(vim.fn.fnamemodify(path, ':h'), 'p')
  if type(lines) == 'string' then
    lines = vim.split(lines, '\n', true)
  end
  vim.fn.writefile(lines, path)
end

--- A small workspace: a .git marker and `files` ({ [relpath] = lines }). Returns its path.
function H.workspace(files)
  local dir = H.tmpdir()
  vim.fn.mkdir(dir .. '/.git', 'p')
  for rel, lines in pairs(files or {}) do
    H.write(dir .. '/' .. rel, lines)
  end
  return dir
end

--- A scripted generator file for `moecode serve --scripted-generator` (see
--- lsp/assist/scripted_generator.h): { replies = {{match, text}}, fallback, token_delay_ms, ... }.
function H.script(tbl)
  local path = H.tmpdir() .. '/script.json'
  vim.fn.writefile({ vim.json.encode(tbl) }, path)
  return path
end

--- The default model (scripts/setup), or nil when it is not installed.
function H.default_model()
  local p = vim.env.MOECODE_DEFAULT_MODEL
  if not p or p == '' then
    local cache = vim.env.XDG_CACHE_HOME
    if not cache or cache == '' then
      cache = vim.env.HOME .. '/.cache'
    end
    p = cache .. '/moecode/models/default.gguf'
  end
  if vim.fn.filereadable(p) == 1 then
    return p
  end
  return nil
end

--- Starts a child Neovim with the plugin on its runtimepath; returns a handle with
--- :lua(code, ...) (runs `code` as a function body with ... = args, returns its value),
--- :input(keys), :cmd(ex), :wait(code, timeout_ms, what) and :stop().
function H.child()
  local chan = vim.fn.jobstart({
    vim.v.progpath, '--embed', '--headless', '-u', 'NONE', '-i', 'NONE', '-n',
    '--cmd', 'set rtp^=' .. H.plugin_dir,
  }, { rpc = true })
  assert(chan > 0, 'could not start a child nvim')
  local c = { chan = chan }
  children[#children + 1] = c
  function c:lua(code, ...)
    return vim.rpcrequest(self.chan, 'nvim_exec_lua', code, { ... })
  end
  function c:cmd(ex)
    return vim.rpcrequest(self.chan, 'nvim_command', ex)
  end
  function c:input(keys)
    return vim.rpcrequest(self.chan, 'nvim_input', keys)
  end
  function c:mode()
    return vim.rpcrequest(self.chan, 'nvim_get_mode').mode
  end
  --- Polls `code` (a Lua function body in the child) until it returns a truthy value.
  function c:wait(code, timeout_ms, what, ...)
    local deadline = uv.hrtime() + (timeout_ms or 5000) * 1e6
    while true do
      local v = self:lua(code, ...)
      if v and v ~= vim.NIL then
        return v
      end
      if uv.hrtime() > deadline then
        error('timed out after ' .. (timeout_ms or 5000) .. ' ms waiting for ' .. (what or code), 2)
      end
      vim.wait(20)
    end
  end
  function c:stop()
    pcall(vim.rpcrequest, self.chan, 'nvim_command', 'qall!')
    pcall(vim.fn.jobstop, self.chan)
  end
  -- Capture notifications for the tests (vim.notify is what users see).
  c:lua([[
    _G.notes = {}
    local orig = vim.notify
    vim.notify = function(msg, level, o)
      table.insert(_G.notes, { msg = msg, level = level })
      return orig(msg, level, o)
    end
    vim.cmd('filetype on')
    vim.cmd('runtime! plugin/moecode.lua')
  ]])
  return c
end

--- Opens `path` in the child and returns its buffer number.
function H.edit(c, path)
  c:cmd('edit ' .. vim.fn.fnameescape(path))
  return c:lua('return vim.api.nvim_get_current_buf()')
end

--- Waits until the buffer's moecode client is initialized; returns its id.
function H.wait_client(c, timeout_ms)
  return c:wait([[
    local cl = require('moecode')._clients.get(vim.api.nvim_get_current_buf())
    return cl and cl.id
  ]], timeout_ms or 10000, 'the moecode client to initialize')
end

function H.eq(expected, actual, what)
  if not vim.deep_equal(expected, actual) then
    error(string.format('%s: expected %s, got %s', what or 'value', vim.inspect(expected), vim.inspect(actual)), 2)
  end
end

function H.ok(cond, what)
  if not cond then
    error('assertion failed: ' .. (what or '?'), 2)
  end
  return cond
end

--- Runs the test cases { {name, fn}, ... } in order, prints PASS/FAIL lines, and exits
--- Neovim: 0 when every case passed, 1 otherwise. A case that errors fails; `H.skip(why)`
--- inside a case skips it.
function H.run(cases)
  local failed = 0
  local t_all = uv.hrtime()
  for _, case in ipairs(cases) do
    local t0 = uv.hrtime()
    local ok, err = xpcall(case[2], debug.traceback)
    local ms = (uv.hrtime() - t0) / 1e6
    if ok then
      log(string.format('PASS %s (%.0f ms)', case[1], ms))
    elseif type(err) == 'string' and err:find('SKIP: ', 1, true) then
      log(string.format('SKIP %s: %s', case[1], err:match('SKIP: ([^\n]*)')))
    else
      failed = failed + 1
      log(string.format('FAIL %s (%.0f ms): %s', case[1], ms, tostring(err)))
    end
    for _, c in ipairs(children) do
      c:stop()
    end
    children = {}
  end
  for _, d in ipairs(tmpdirs) do
    vim.fn.delete(d, 'rf')
  end
  log(string.format('%s: %d case(s), %d failed, %.1f s', vim.fn.expand('%:t') ~= '' and vim.fn.expand('%:t') or 'test',
    #cases, failed, (uv.hrtime() - t_all) / 1e9))
  vim.cmd(failed == 0 and 'qall!' or 'cquit 1')
end

function H.skip(why)
  error('SKIP: ' .. why, 0)
end

return H
