-- Fixes, rewrites and translation: the editor side of the server's code actions and of its
-- moecode.rewrite / moecode.translate commands (docs/lsp.md). The server does the work and
-- applies it with workspace/applyEdit, which Neovim's LSP client performs; these functions send
-- the requests (asynchronously: the model may take a while) and report the outcome.
--
-- "Fix with moecode" is also a plain code action: vim.lsp.buf.code_action() offers it on
-- 0.7-0.10, which send the line's diagnostics from every source. Neovim 0.11 sends each server
-- only its own diagnostics (moecode publishes none), so fix() asks with the line's diagnostics
-- itself, on every version.
local clients = require('moecode.client')
local util = require('moecode.util')

local M = {}

local api = vim.api

--- Target languages of :MoecodeTranslate (names the server's moecode.translate takes).
M.targets = { 'javascript', 'typescript', 'python', 'go', 'rust', 'java', 'cpp', 'c', 'c_sharp', 'ruby', 'php', 'lua',
  'bash' }

local function client_for(bufnr)
  local client = clients.get(bufnr)
  if not client then
    util.notify('no running server for this buffer (:MoecodeStatus)', vim.log.levels.WARN)
  end
  return client
end

-- True when the server has just shown `message` itself (window/showMessage): a refused fix or
-- rewrite is reported by the server, so it is not said twice.
local function server_said(bufnr, message)
  local entry = clients.entry_of(bufnr)
  local last = entry and entry.last_message
  return type(last) == 'string' and type(message) == 'string' and message ~= ''
    and last:sub(-#message) == message
end

local function error_message(err)
  if type(err) == 'table' then
    return err.message or vim.inspect(err)
  end
  return tostring(err)
end

local function execute(client, bufnr, command, arg, handler)
  return util.call(client, 'request', 'workspace/executeCommand', { command = command, arguments = { arg } },
    function(err, result) handler(err, result) end, bufnr)
end

--- "definition total (lines 5-9): why" for each unit of a translation that failed.
function M.describe_failures(result)
  local out = {}
  for _, u in ipairs(result.units or {}) do
    if not u.ok then
      local lines = u.firstLine == u.lastLine and ('line ' .. u.firstLine)
        or string.format('lines %d-%d', u.firstLine, u.lastLine)
      out[#out + 1] = string.format('%s%s (%s)%s', u.kind, (u.name and u.name ~= '') and (' ' .. u.name) or '', lines,
        (u.error and u.error ~= '') and (': ' .. u.error) or '')
    end
  end
  return table.concat(out, '; ')
end

-- Shows buffer `buf` in a window: the one that shows it already, else a new vertical split.
local function show(buf)
  for _, win in ipairs(api.nvim_list_wins()) do
    if api.nvim_win_get_buf(win) == buf then
      api.nvim_set_current_win(win)
      return
    end
  end
  vim.cmd('vsplit')
  api.nvim_win_set_buf(0, buf)
end

--- :MoecodeTranslate[!] {lang}: translates the current buffer into a new file next to it
--- (inside the server's workspace folder), opened in a split; lists the units that did not
--- translate. The server refuses to replace an existing file unless `overwrite`.
--- `done(result, err)` (optional) is called at the end.
function M.translate(to, overwrite, done)
  done = done or function() end
  local bufnr = api.nvim_get_current_buf()
  local client = client_for(bufnr)
  if not client then
    return done(nil, 'no server')
  end
  local name = vim.fn.fnamemodify(api.nvim_buf_get_name(bufnr), ':t')
  util.notify(string.format('translating %s to %s...', name, to))
  execute(client, bufnr, 'moecode.translate',
    { textDocument = { uri = vim.uri_from_bufnr(bufnr) }, to = to, overwrite = overwrite and true or false },
    function(err, result)
      if err then
        local msg = error_message(err)
        local file = msg:match('^moecode%.translate: (.*) exists %(pass')
        if file then
          util.notify(string.format('%s exists: :MoecodeTranslate! %s replaces it', file, to), vim.log.levels.WARN)
        else
          util.notify('translate failed: ' .. msg, vim.log.levels.ERROR)
        end
        return done(nil, msg)
      end
      if type(result) ~= 'table' or not result.applied then
        local why = type(result) == 'table' and result.failureReason or nil
        util.notify('Neovim did not create the translation' .. (why and (': ' .. tostring(why)) or ''),
          vim.log.levels.ERROR)
        return done(result, 'not applied')
      end
      -- A new file was written by the plugin (client.lua's create_with_text); a replaced one was
      -- edited in its buffer like any edit: write it, as the new file is.
      local fname = vim.uri_to_fname(result.uri)
      local out = vim.fn.bufadd(fname)
      vim.fn.bufload(out)
      vim.bo[out].buflisted = true
      if vim.bo[out].modified then
        api.nvim_buf_call(out, function() vim.cmd('silent noautocmd write') end)
      end
      show(out)
      local n = #(result.units or {})
      local short = vim.fn.fnamemodify(fname, ':t')
      if (result.failed or 0) > 0 then
        util.notify(string.format('%d of %d units of %s did not translate to %s%s: %s. Each is a comment in %s.',
          result.failed, n, name, to, result.parses and '' or (' (' .. short .. ' does not parse)'),
          M.describe_failures(result), short), vim.log.levels.WARN)
      else
        util.notify(string.format('translated %s to %s (%d units)', name, short, n))
      end
      done(result, nil)
    end)
end

--- :[range]MoecodeRewrite {instruction}: rewrites lines `line1`..`line2` (1-based) of the
--- current buffer as the instruction says; the server applies the edit. `done(result, err)`
--- (optional) is called at the end.
function M.rewrite(line1, line2, instruction, done)
  done = done or function() end
  if not instruction or vim.trim(instruction) == '' then
    util.notify('say how to rewrite the lines: :MoecodeRewrite use a list comprehension', vim.log.levels.WARN)
    return done(nil, 'no instruction')
  end
  local bufnr = api.nvim_get_current_buf()
  local client = client_for(bufnr)
  if not client then
    return done(nil, 'no server')
  end
  local last = api.nvim_buf_get_lines(bufnr, line2 - 1, line2, false)[1] or ''
  local range = {
    start = { line = line1 - 1, character = 0 },
    ['end'] = { line = line2 - 1, character = util.to_lsp_col(last, #last, client.offset_encoding or 'utf-16') },
  }
  util.notify(string.format('rewriting lines %d-%d...', line1, line2))
  execute(client, bufnr, 'moecode.rewrite',
    { textDocument = { uri = vim.uri_from_bufnr(bufnr) }, range = range, instruction = vim.trim(instruction) },
    function(err, result)
      if err then
        local msg = error_message(err)
        if not server_said(bufnr, msg) then
          util.notify('rewrite failed: ' .. msg, vim.log.levels.ERROR)
        end
        return done(nil, msg)
      end
      if type(result) ~= 'table' or not result.applied then
        util.notify('the rewrite was not applied (the buffer changed?)', vim.log.levels.WARN)
        return done(result, 'not applied')
      end
      done(result, nil)
    end)
end

-- The diagnostics of line `lnum` (0-based) of `bufnr`, from every source, as LSP diagnostics in
-- the client's position encoding.
local function line_diagnostics(bufnr, lnum, encoding)
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr, { lnum = lnum })) do
    local first = api.nvim_buf_get_lines(bufnr, d.lnum, d.lnum + 1, false)[1] or ''
    local end_lnum = d.end_lnum or d.lnum
    local last = api.nvim_buf_get_lines(bufnr, end_lnum, end_lnum + 1, false)[1] or ''
    out[#out + 1] = {
      range = {
        start = { line = d.lnum, character = util.to_lsp_col(first, d.col or 0, encoding) },
        ['end'] = { line = end_lnum, character = util.to_lsp_col(last, d.end_col or d.col or 0, encoding) },
      },
      severity = d.severity, -- vim.diagnostic.severity matches the LSP's numbers
      message = d.message,
      source = d.source,
      code = d.code,
    }
  end
  return out
end

--- :MoecodeFix: moecode's fixes for the diagnostics of the cursor line (from any source), in a
--- vim.ui.select menu; the chosen one is resolved (the model runs then) and applied.
--- `done(applied_action, err)` (optional) is called at the end.
function M.fix(done)
  done = done or function() end
  local bufnr = api.nvim_get_current_buf()
  local client = client_for(bufnr)
  if not client then
    return done(nil, 'no server')
  end
  local encoding = client.offset_encoding or 'utf-16'
  local cursor = api.nvim_win_get_cursor(0)
  local line = api.nvim_get_current_line()
  local pos = { line = cursor[1] - 1, character = util.to_lsp_col(line, cursor[2], encoding) }
  local diagnostics = line_diagnostics(bufnr, cursor[1] - 1, encoding)
  if #diagnostics == 0 then
    util.notify('no diagnostics on this line to fix', vim.log.levels.INFO)
    return done(nil, 'no diagnostics')
  end
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    range = { start = pos, ['end'] = pos },
    context = { diagnostics = diagnostics, only = { 'quickfix' } },
  }
  util.call(client, 'request', 'textDocument/codeAction', params, function(err, actions)
    if err or type(actions) ~= 'table' or #actions == 0 then
      util.notify(err and ('code actions failed: ' .. error_message(err)) or 'moecode has no fix here (:MoecodeStatus)',
        err and vim.log.levels.ERROR or vim.log.levels.INFO)
      return done(nil, err and error_message(err) or 'no actions')
    end
    vim.ui.select(actions, {
      prompt = 'moecode fixes:',
      kind = 'codeaction',
      format_item = function(a) return a.title end,
    }, function(action)
      if not action then
        return done(nil, 'cancelled')
      end
      local function apply(a)
        if a.edit then
          vim.lsp.util.apply_workspace_edit(a.edit, encoding)
          return done(a, nil)
        elseif a.command then -- a server without resolve: its command applies the edit
          return execute(client, bufnr, a.command.command, (a.command.arguments or {})[1], function(e)
            if e and not server_said(bufnr, error_message(e)) then
              util.notify('fix failed: ' .. error_message(e), vim.log.levels.ERROR)
            end
            done(not e and a or nil, e and error_message(e) or nil)
          end)
        end
        done(nil, 'nothing to apply')
      end
      if action.edit or action.command then
        return apply(action)
      end
      util.call(client, 'request', 'codeAction/resolve', action, function(e, resolved)
        if e then
          if not server_said(bufnr, error_message(e)) then
            util.notify('fix failed: ' .. error_message(e), vim.log.levels.ERROR)
          end
          return done(nil, error_message(e))
        end
        apply(resolved or {})
      end, bufnr)
    end)
  end, bufnr)
end

return M
