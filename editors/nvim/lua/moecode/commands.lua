-- The :Moecode* user commands: context, status, restart, toggle, fix, rewrite, translate.
local clients = require('moecode.client')
local ghost = require('moecode.ghost')
local util = require('moecode.util')

local M = {}

local api = vim.api

local function setup_done()
  if not require('moecode').options() then
    util.notify("setup() has not been called: add require('moecode').setup{} to your config",
      vim.log.levels.WARN)
    return false
  end
  return true
end

-- Opens a scratch buffer named `name` in a split with `lines`; returns its number.
local function scratch(name, lines, filetype)
  local existing = vim.fn.bufnr('^' .. vim.pesc(name) .. '$')
  if existing > 0 then
    pcall(api.nvim_buf_delete, existing, { force = true })
  end
  vim.cmd('botright new')
  local buf = api.nvim_get_current_buf()
  vim.bo[buf].buftype = 'nofile'
  vim.bo[buf].bufhidden = 'wipe'
  vim.bo[buf].swapfile = false
  api.nvim_buf_set_name(buf, name)
  api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  if filetype then
    vim.bo[buf].filetype = filetype
  end
  return buf
end

--- :MoecodeContext: the packed context the server would give a completion at the cursor.
function M.context()
  if not setup_done() then
    return nil
  end
  local bufnr = api.nvim_get_current_buf()
  local client = clients.get(bufnr)
  if not client then
    util.notify('no running server for this buffer (:MoecodeStatus)', vim.log.levels.WARN)
    return nil
  end
  local pos = api.nvim_win_get_cursor(0)
  local line = api.nvim_buf_get_lines(bufnr, pos[1] - 1, pos[1], false)[1] or ''
  local args = { {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    position = { line = pos[1] - 1, character = util.to_lsp_col(line, pos[2], client.offset_encoding or 'utf-16') },
  } }
  local resp, err = util.call(client, 'request_sync', 'workspace/executeCommand',
    { command = 'moecode.context', arguments = args }, 30000, bufnr)
  if not resp then
    util.notify('moecode.context: ' .. tostring(err or 'no answer'), vim.log.levels.ERROR)
    return nil
  end
  if resp.err then
    util.notify('moecode.context: ' .. (resp.err.message or vim.inspect(resp.err)), vim.log.levels.ERROR)
    return nil
  end
  local r = resp.result or {}
  local lines = util.split_lines(r.text or '')
  if not r.text or r.text == '' then
    lines = { string.format('# moecode: no context text (%s tokens of %s, format %s)', tostring(r.tokens),
      tostring(r.budget), tostring(r.format)) }
  end
  return scratch('moecode://context', lines, nil)
end

local function status_lines()
  local lines = {}
  local add = function(s) lines[#lines + 1] = s end
  local opts = require('moecode').options()
  if not opts then
    add('moecode: setup() has not been called')
    return lines
  end
  add(string.format('moecode: ghost text %s (%s), keymaps in insert mode',
    ghost.is_enabled() and 'on' or 'off', ghost.style()))
  local entries = clients.entries()
  if #entries == 0 then
    add('no server is running (none of this session\'s buffers has one of the filetypes: '
      .. (type(opts.filetypes) == 'table' and table.concat(opts.filetypes, ',') or opts.filetypes) .. ')')
  end
  for _, e in ipairs(entries) do
    local client = clients.client_of(e)
    local st = e.status or {}
    add(string.format('root %s: %s', e.root, client and ('client ' .. client.id .. (client.initialized and '' or ' (starting)'))
      or (e.gave_up and 'stopped after repeated crashes' or (e.timer and 'restarting' or 'not running'))))
    local pid = clients.pid(e)
    if pid then
      add('  pid ' .. pid)
    end
    if e.status then
      add(string.format('  state %s, model %s, backend %s%s', tostring(st.state), tostring(st.model),
        tostring(st.backend), (st.message and st.message ~= '') and (': ' .. st.message) or ''))
      if type(st.lastError) == 'string' and st.lastError ~= '' then
        add('  server error: ' .. st.lastError)
      end
      if type(st.indexing) == 'table' and st.indexing.active then
        add(string.format('  indexing: %s%s', tostring(st.indexing.message),
          st.indexing.percentage and (' ' .. st.indexing.percentage .. '%') or ''))
      end
    elseif e.progress then
      add(string.format('  indexing: %s %s', tostring(e.progress.kind), tostring(e.progress.message)))
    end
    if client and client.initialized then
      local resp = util.call(client, 'request_sync', 'workspace/executeCommand', { command = 'moecode.status' }, 2000)
      if resp and resp.result then
        local r = resp.result
        local c = r.completions or {}
        add(string.format('  model %s (%s); completions: %s requested, %s answered, %s cancelled, last %s ms',
          tostring(r.model), r.modelLoaded and 'loaded' or 'not loaded', tostring(c.requests), tostring(c.answered),
          tostring(c.cancelled), tostring(c.lastMs)))
      end
    end
    if e.restarts > 0 or #e.exits > 0 then
      local last = e.exits[#e.exits] or {}
      add(string.format('  restarts %d; last exit: code %s, signal %s', e.restarts, tostring(last.code),
        tostring(last.signal)))
    end
    if e.last_error then
      add('  last error: ' .. e.last_error)
    end
  end
  local info = ghost.info(api.nvim_get_current_buf())
  if info.last_error then
    add('this buffer: last request failed: ' .. info.last_error)
  end
  return lines
end

M.status_lines = status_lines

--- :MoecodeStatus: servers, model, indexing, restarts, last errors.
function M.status()
  local chunks = {}
  for _, l in ipairs(status_lines()) do
    chunks[#chunks + 1] = { l .. '\n' }
  end
  api.nvim_echo(chunks, false, {})
end

function M.create()
  local cmd = api.nvim_create_user_command
  cmd('MoecodeContext', function() M.context() end,
    { desc = 'moecode: show the packed context of the cursor in a scratch buffer' })
  cmd('MoecodeStatus', function() M.status() end, { desc = 'moecode: servers, model, indexing, errors' })
  cmd('MoecodeRestart', function()
    if setup_done() then
      clients.restart()
    end
  end, { desc = 'moecode: restart the server(s)' })
  cmd('MoecodeFix', function()
    if setup_done() then
      require('moecode.assist').fix()
    end
  end, { desc = "moecode: fixes for the cursor line's diagnostics (any source)" })
  cmd('MoecodeRewrite', function(a)
    if setup_done() then
      require('moecode.assist').rewrite(a.line1, a.line2, a.args)
    end
  end, { range = true, nargs = '+', desc = 'moecode: rewrite the lines as the instruction says' })
  cmd('MoecodeTranslate', function(a)
    if setup_done() then
      require('moecode.assist').translate(a.args, a.bang)
    end
  end, {
    nargs = 1,
    bang = true,
    complete = function(lead)
      return vim.tbl_filter(function(t) return t:find(lead, 1, true) == 1 end, require('moecode.assist').targets)
    end,
    desc = 'moecode: translate the file into a new one in another language (! replaces it)',
  })
  cmd('MoecodeToggle', function(a)
    local on
    if a.args == 'on' then
      on = true
    elseif a.args == 'off' then
      on = false
    end
    local now = ghost.toggle(on)
    util.notify('suggestions while typing are ' .. (now and 'on' or 'off'))
  end, {
    nargs = '?',
    complete = function() return { 'on', 'off' } end,
    desc = 'moecode: turn suggestions while typing on or off',
  })
end

return M
