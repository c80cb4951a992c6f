-- Ghost text: asks for textDocument/inlineCompletion, draws it with extmarks, accepts it.
local clients = require('moecode.client')
local util = require('moecode.util')

local M = {}

local api = vim.api
local ns = api.nvim_create_namespace('moecode.ghost')
M.ns = ns

local AUTOMATIC, INVOKED = 2, 1 -- InlineCompletionTriggerKind
local REQUEST_CANCELLED, CONTENT_MODIFIED = -32800, -32801

local opts -- the options of the last setup()
local enabled = true -- :MoecodeToggle
local timer -- the debounce timer (one: only the current buffer asks)

-- bufnr -> state:
--   req: the request in flight { client_id, id, tick, row, col }
--   s:   the suggestion shown { items, index, row0, col0, consumed, row, col, line, mark }
--        items[i] = { text = what to insert at (row0, col0), tail = text after the
--        cursor that accepting it replaces }; `consumed` is the part of the item already
--        typed or accepted; (row, col) the cursor and `line` its line when it was drawn.
--   last_error: the last error a request got.
local buffers = {}

--- Counters for :MoecodeStatus and the tests.
M.stats = { requests = 0, cancelled = 0, responses = 0, empty = 0, shown = 0, accepted = 0, partial = 0, errors = 0 }

local function state(bufnr)
  local st = buffers[bufnr]
  if not st then
    st = {}
    buffers[bufnr] = st
  end
  return st
end

local function cursor()
  local pos = api.nvim_win_get_cursor(0)
  return pos[1] - 1, pos[2]
end

local function get_line(bufnr, row)
  return api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
end

local function in_insert_mode()
  return api.nvim_get_mode().mode:sub(1, 1) == 'i'
end

--- True when Neovim draws the suggestions itself (vim.lsp.inline_completion, 0.12+).
function M.native()
  if not opts then
    return false
  end
  local n = opts.ghost.native
  return (n == true or n == 'auto') and vim.lsp.inline_completion ~= nil
end

--- How ghost text is drawn here: 'native', 'inline' (0.10+) or 'overlay' (eol/overlay + virt_lines).
function M.style()
  if M.native() then
    return 'native'
  end
  return util.has('0.10') and 'inline' or 'overlay'
end

function M.configure(new_opts)
  opts = new_opts
end

-- ---- drawing -------------------------------------------------------------------------

local function current_item(s)
  return s.items[s.index]
end

-- The text still to insert for the current item.
local function remaining(s)
  return current_item(s).text:sub(#s.consumed + 1)
end

local function undraw(bufnr, st)
  if st.s and st.s.mark then
    pcall(api.nvim_buf_del_extmark, bufnr, ns, st.s.mark)
    st.s.mark = nil
  end
end

local function draw(bufnr, st)
  local s = st.s
  local text = remaining(s)
  local hl = opts.ghost.hl_group
  local lines = util.split_lines(text)
  local line = get_line(bufnr, s.row)
  local ts = vim.bo[bufnr].tabstop
  local mark = { id = s.mark, hl_mode = 'combine', priority = 200 }
  local virt_lines = {}
  if M.style() == 'inline' then
    for i = 2, #lines do
      virt_lines[#virt_lines + 1] = { { util.expand_tabs(lines[i], 0, ts), hl } }
    end
    mark.virt_text = { { lines[1], hl } }
    mark.virt_text_pos = 'inline'
  else
    -- 0.7-0.9: the first line is drawn over the rest of the cursor's line (overlay), and that
    -- rest is drawn after the suggestion's last line, where accepting puts it.
    local tail = current_item(s).tail
    local after = line:sub(s.col + 1)
    local kept = after
    if tail ~= '' and after:sub(1, #tail) == tail and #s.consumed == 0 then
      kept = after:sub(#tail + 1)
    end
    local startcol = vim.fn.strdisplaywidth(line:sub(1, s.col))
    local first = util.expand_tabs(lines[1], startcol, ts)
    -- 'overlay' also at the end of the line: 'eol' would leave a one-cell gap.
    if after == '' then
      mark.virt_text = { { first, hl } }
      mark.virt_text_pos = 'overlay'
    else
      local chunks = { { first, hl } }
      local width_after = vim.fn.strdisplaywidth(after)
      if #lines == 1 then
        local shown = util.expand_tabs(kept, startcol + vim.fn.strdisplaywidth(first), ts)
        chunks[#chunks + 1] = { shown, 'Normal' }
        local w = vim.fn.strdisplaywidth(first .. shown)
        if w < width_after then
          chunks[#chunks + 1] = { string.rep(' ', width_after - w), 'Normal' }
        end
      else
        local w = vim.fn.strdisplaywidth(first)
        if w < width_after then
          chunks[#chunks + 1] = { string.rep(' ', width_after - w), 'Normal' }
        end
      end
      mark.virt_text = chunks
      mark.virt_text_pos = 'overlay'
    end
    for i = 2, #lines do
      local text_i = util.expand_tabs(lines[i], 0, ts)
      local vl = { { text_i, hl } }
      if i == #lines and kept ~= '' then
        vl[#vl + 1] = { util.expand_tabs(kept, vim.fn.strdisplaywidth(text_i), ts), 'Normal' }
      end
      virt_lines[#virt_lines + 1] = vl
    end
  end
  if #virt_lines > 0 then
    mark.virt_lines = virt_lines
  end
  s.mark = api.nvim_buf_set_extmark(bufnr, ns, s.row, s.col, mark)
  s.line = line
end

--- Removes the suggestion of `bufnr` (if any) from the screen and forgets it.
function M.clear(bufnr)
  local st = buffers[bufnr]
  if not st then
    return
  end
  undraw(bufnr, st)
  st.s = nil
  if api.nvim_buf_is_valid(bufnr) then
    api.nvim_buf_clear_namespace(bufnr, ns, 0, -1)
  end
end

-- ---- requests ------------------------------------------------------------------------

--- Cancels the request in flight for `bufnr` ($/cancelRequest).
function M.cancel(bufnr)
  local st = buffers[bufnr]
  if not st or not st.req then
    return
  end
  local req = st.req
  st.req = nil
  local client = vim.lsp.get_client_by_id(req.client_id)
  if client then
    util.call(client, 'cancel_request', req.id)
  end
  M.stats.cancelled = M.stats.cancelled + 1
end

-- Turns a result's items into suggestions relative to the cursor (row, col); drops those
-- whose range does not hold the cursor or that would insert nothing.
local function normalize(bufnr, result, encoding, row, col)
  local raw = result and (result.items or result) or {}
  if type(raw) ~= 'table' then
    return {}
  end
  local line = get_line(bufnr, row)
  local out = {}
  for _, item in ipairs(raw) do
    local text = item.insertText
    if type(text) == 'table' then
      text = text.value -- a snippet: shown and inserted as text
    end
    if type(text) == 'string' then
      local start_col, end_col = col, col
      local ok = true
      if item.range then
        local r = item.range
        if r.start.line ~= row or r['end'].line ~= row then
          ok = false
        else
          start_col = util.from_lsp_col(line, r.start.character, encoding)
          end_col = util.from_lsp_col(line, r['end'].character, encoding)
          ok = start_col <= col and end_col >= col
        end
      end
      if ok then
        local typed = line:sub(start_col + 1, col)
        if text:sub(1, #typed) == typed then
          text = text:sub(#typed + 1)
          if text ~= '' then
            out[#out + 1] = { text = text, tail = line:sub(col + 1, end_col) }
          end
        end
      end
    end
  end
  return out
end

local function show(bufnr, items, row, col)
  local st = state(bufnr)
  M.clear(bufnr)
  st.s = { items = items, index = 1, row0 = row, col0 = col, consumed = '', row = row, col = col }
  draw(bufnr, st)
  M.stats.shown = M.stats.shown + 1
  vim.cmd('doautocmd <nomodeline> User MoecodeSuggestion')
end

-- For the tests: shows `items` ({ text, tail }) as if a server had sent them.
M._show = show

--- Asks the server for a suggestion at the cursor of the current window (`bufnr` must be
--- its buffer). `kind`: 1 invoked (a key), 2 automatic (typing).
function M.request(bufnr, kind)
  if not opts or M.native() or bufnr ~= api.nvim_get_current_buf() or not in_insert_mode() then
    return false
  end
  local st = state(bufnr)
  M.cancel(bufnr)
  local client = clients.get(bufnr)
  if not client then
    st.last_error = 'no running server for this buffer'
    return false
  end
  local row, col = cursor()
  local line = get_line(bufnr, row)
  local encoding = client.offset_encoding or 'utf-16'
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    position = { line = row, character = util.to_lsp_col(line, col, encoding) },
    context = { triggerKind = kind or INVOKED },
  }
  local tick = api.nvim_buf_get_changedtick(bufnr)
  local req = { client_id = client.id, tick = tick, row = row, col = col }
  local ok, id = util.call(client, 'request', 'textDocument/inlineCompletion', params, function(err, result)
    if st.req ~= req then
      return -- cancelled or superseded
    end
    st.req = nil
    M.stats.responses = M.stats.responses + 1
    if err then
      if err.code ~= REQUEST_CANCELLED and err.code ~= CONTENT_MODIFIED then
        st.last_error = err.message or vim.inspect(err)
        M.stats.errors = M.stats.errors + 1
      end
      return
    end
    if not api.nvim_buf_is_valid(bufnr) or api.nvim_get_current_buf() ~= bufnr or not in_insert_mode()
      or api.nvim_buf_get_changedtick(bufnr) ~= tick then
      return
    end
    local r, c = cursor()
    if r ~= row or c ~= col then
      return
    end
    local items = normalize(bufnr, result, encoding, row, col)
    if #items == 0 then
      M.stats.empty = M.stats.empty + 1
      return
    end
    if vim.fn.pumvisible() == 1 then
      return -- the completion menu is open: don't draw under it
    end
    show(bufnr, items, row, col)
  end, bufnr)
  if not ok then
    st.last_error = 'the request could not be sent (the server has stopped)'
    return false
  end
  req.id = id
  st.req = req
  st.last_error = nil
  M.stats.requests = M.stats.requests + 1
  return true
end

local function stop_timer()
  if timer then
    timer:stop()
  end
end

--- Restarts the debounce: an automatic request goes out after `ghost.debounce_ms` of quiet.
function M.schedule(bufnr)
  if not opts or not enabled or not opts.ghost.enabled or M.native() then
    return
  end
  timer = timer or (vim.uv or vim.loop).new_timer()
  timer:stop()
  timer:start(opts.ghost.debounce_ms, 0, vim.schedule_wrap(function()
    if api.nvim_buf_is_valid(bufnr) and api.nvim_get_current_buf() == bufnr and in_insert_mode() then
      M.request(bufnr, AUTOMATIC)
    end
  end))
end

-- ---- following edits -----------------------------------------------------------------

-- Keeps the suggestion when the edit since it was drawn is the user typing its next
-- characters (or our own partial accept). Returns true when it is still valid.
local function follow(bufnr, st)
  local s = st.s
  local row, col = cursor()
  if row ~= s.row then
    return false
  end
  local line = get_line(bufnr, row)
  if col == s.col then
    return line == s.line
  end
  if col < s.col then
    return false
  end
  local typed = line:sub(s.col + 1, col)
  if line ~= s.line:sub(1, s.col) .. typed .. s.line:sub(s.col + 1) then
    return false -- the cursor moved over text that was already there
  end
  local consumed = s.consumed .. typed
  -- Items that disagree with what was typed (or that it completes) go; the current one
  -- stays current when it agrees.
  local keep, index = {}, 1
  for i, item in ipairs(s.items) do
    if item.text:sub(1, #consumed) == consumed and #item.text > #consumed then
      keep[#keep + 1] = item
      if i == s.index then
        index = #keep
      end
    end
  end
  if #keep == 0 then
    return false
  end
  s.items, s.index, s.consumed = keep, index, consumed
  s.col = col
  draw(bufnr, st)
  return true
end

--- TextChangedI / CursorMovedI: keep a suggestion that still fits, else drop it, cancel the
--- request in flight and schedule a new one.
function M.on_change(bufnr)
  local st = state(bufnr)
  if st.s and follow(bufnr, st) then
    return
  end
  local req = st.req
  if not st.s and req and req.tick == api.nvim_buf_get_changedtick(bufnr) then
    local row, col = cursor()
    if row == req.row and col == req.col then
      return -- asked for this very state (a key right after an edit, before this autocmd came)
    end
  end
  M.clear(bufnr)
  M.cancel(bufnr)
  M.schedule(bufnr)
end

--- InsertLeave / BufLeave: nothing stays on screen or in flight.
function M.on_leave(bufnr)
  stop_timer()
  M.cancel(bufnr)
  M.clear(bufnr)
end

--- A server exited: its requests will never be answered.
function M.client_exited(client_id)
  for bufnr, st in pairs(buffers) do
    if st.req and st.req.client_id == client_id then
      st.req = nil
    end
    if not api.nvim_buf_is_valid(bufnr) then
      buffers[bufnr] = nil
    end
  end
end

function M.forget(bufnr)
  buffers[bufnr] = nil
end

-- ---- accepting -----------------------------------------------------------------------

-- The next piece of `text` for an accept of kind `what` ('all', 'line', 'word').
local function piece(text, what)
  if what == 'all' then
    return text
  elseif what == 'line' then
    if text:sub(1, 1) == '\n' then
      return '\n' .. text:sub(2):match('^[^\n]*')
    end
    return text:match('^[^\n]*')
  end
  return text:match('^%s*[%w_\128-\255]+') or text:match('^%s*[^%w_%s\128-\255]+') or text
end

--- Inserts all, the next line or the next word of the suggestion of the current buffer.
--- Returns true when something was inserted.
function M.accept(what)
  local bufnr = api.nvim_get_current_buf()
  if M.native() then
    if what ~= 'all' then
      return false
    end
    return vim.lsp.inline_completion.get() and true or false
  end
  local st = buffers[bufnr]
  if not st or not st.s then
    return false
  end
  if not follow(bufnr, st) then
    M.clear(bufnr)
    return false
  end
  local s = st.s
  local text = remaining(s)
  local part = piece(text, what)
  local whole = #part >= #text
  local row, col = s.row, s.col
  local end_col = col
  local tail = current_item(s).tail
  if whole and tail ~= '' and #s.consumed == 0 and get_line(bufnr, row):sub(col + 1, col + #tail) == tail then
    end_col = col + #tail
  end
  local lines = util.split_lines(part)
  undraw(bufnr, st)
  api.nvim_buf_set_text(bufnr, row, col, row, end_col, lines)
  local new_row = row + #lines - 1
  local new_col = (#lines == 1 and col or 0) + #lines[#lines]
  api.nvim_win_set_cursor(0, { new_row + 1, new_col })
  if whole then
    st.s = nil
    M.clear(bufnr)
    M.stats.accepted = M.stats.accepted + 1
    return true
  end
  s.consumed = s.consumed .. part
  s.row, s.col = new_row, new_col
  draw(bufnr, st)
  M.stats.partial = M.stats.partial + 1
  return true
end

--- Shows the next (+1) or previous (-1) suggestion; asks for one when none is shown.
function M.cycle(delta)
  local bufnr = api.nvim_get_current_buf()
  if M.native() then
    local ic = vim.lsp.inline_completion
    local jump = ic.select or ic.jump
    if jump then
      jump({ count = delta })
    end
    return true
  end
  local st = buffers[bufnr]
  if not st or not st.s then
    return M.request(bufnr, INVOKED)
  end
  local s = st.s
  if #s.items < 2 then
    return true -- nothing to cycle through, but the key did its job
  end
  s.index = (s.index - 1 + delta) % #s.items + 1
  draw(bufnr, st)
  return true
end

--- Hides the suggestion and cancels the request in flight; true when there was one.
function M.dismiss()
  local bufnr = api.nvim_get_current_buf()
  local st = buffers[bufnr]
  local had = st ~= nil and (st.s ~= nil or st.req ~= nil)
  stop_timer()
  M.cancel(bufnr)
  M.clear(bufnr)
  return had
end

--- Asks for a suggestion now (no debounce).
function M.trigger()
  local bufnr = api.nvim_get_current_buf()
  if M.native() then
    vim.lsp.inline_completion.get()
    return true
  end
  stop_timer()
  return M.request(bufnr, INVOKED)
end

--- Turns automatic suggestions on or off (all buffers); returns the new state.
function M.toggle(on)
  if on == nil then
    on = not enabled
  end
  enabled = on
  if not on then
    stop_timer()
    for bufnr in pairs(buffers) do
      M.cancel(bufnr)
      M.clear(bufnr)
    end
  end
  if M.native() then
    pcall(vim.lsp.inline_completion.enable, on)
  end
  return enabled
end

function M.is_enabled()
  return enabled
end

--- What is known about `bufnr`'s suggestion (for :MoecodeStatus and the tests).
function M.info(bufnr)
  local st = buffers[bufnr or api.nvim_get_current_buf()]
  if not st then
    return { visible = false, in_flight = false }
  end
  local out = { visible = st.s ~= nil, in_flight = st.req ~= nil, last_error = st.last_error }
  if st.s then
    out.text = remaining(st.s)
    out.index = st.s.index
    out.count = #st.s.items
    out.row, out.col = st.s.row, st.s.col
  end
  return out
end

return M
