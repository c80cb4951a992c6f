-- Ghost text with a scripted server: partial accepts, type-through, dismiss, cycle, cancel.
local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h') .. '/helpers.lua')

local INFO = [[
  local i = require('moecode')._ghost.info()
  i.marks = #vim.api.nvim_buf_get_extmarks(0, require('moecode')._ghost.ns, 0, -1, {})
  i.last_error = nil
  return i
]]
local STATS = [[return require('moecode')._ghost.stats]]
local LINES = [[return vim.api.nvim_buf_get_lines(0, 0, -1, false)]]

local function start(script, files, extra)
  local ws = H.workspace(files or { ['main.py'] = { 'def add(a, b):', '    ' } })
  local c = H.child()
  c:lua([[require('moecode').setup({ path = ..., args = { '--scripted-generator', select(2, ...) }, ]]
    .. (extra or '') .. ' })', H.binary, H.script(script))
  H.edit(c, ws .. '/' .. next(files or { ['main.py'] = 1 }))
  H.wait_client(c)
  return c
end

local function wait_ghost(c, text)
  return c:wait([[local i = require('moecode')._ghost.info() return i.visible and i.text == ... and i]], 5000,
    'ghost text ' .. vim.inspect(text), text)
end

-- The server's moecode.status counters.
local function server_completions(c)
  return c:lua([[
    local cl = require('moecode')._clients.get(0)
    local r = require('moecode')._util.call(cl, 'request_sync', 'workspace/executeCommand', { command = 'moecode.status' }, 5000, 0)
    local k = r.result.completions
    return { requests = k.requests, answered = k.answered, cancelled = k.cancelled, stale = k.stale }
  ]])
end

H.run({
  { 'accept word, word, line, line', function()
    local c = start({ replies = { { match = 'def add', text = 'total = a + b\n    return total' } } })
    c:input('GA')
    c:input('x<BS>')
    wait_ghost(c, 'total = a + b\n    return total')
    H.eq(1, c:lua(INFO).marks, 'one extmark')
    c:input('<M-w>')
    wait_ghost(c, ' = a + b\n    return total')
    H.eq('    total', c:lua(LINES)[2], 'a word')
    c:input('<M-w>')
    wait_ghost(c, ' a + b\n    return total')
    H.eq('    total =', c:lua(LINES)[2], 'the next word (punctuation)')
    c:input('<M-j>')
    wait_ghost(c, '\n    return total')
    H.eq({ 'def add(a, b):', '    total = a + b' }, c:lua(LINES), 'the rest of the line')
    H.eq(1, c:lua(INFO).marks, 'still one extmark, the next line as virt_lines')
    c:input('<M-j>')
    c:wait([[return not require('moecode')._ghost.info().visible]], 3000, 'the suggestion used up')
    H.eq({ 'def add(a, b):', '    total = a + b', '    return total' }, c:lua(LINES), 'the next line')
    H.eq({ 3, 16 }, c:lua([[local p = vim.api.nvim_win_get_cursor(0) return { p[1], p[2] }]]), 'cursor at the end')
    local st = c:lua(STATS)
    H.eq(3, st.partial, 'three partial accepts')
    H.eq(1, st.accepted, 'the last one used it up')
  end },

  { 'typing the suggestion keeps it without a new request; dismiss; next/prev', function()
    local c = start({ replies = { { match = 'def add', text = 'return a + b' } } })
    c:input('GA')
    c:input('x<BS>')
    wait_ghost(c, 'return a + b')
    local before = c:lua(STATS).requests
    c:input('ret')
    wait_ghost(c, 'urn a + b')
    vim.wait(200) -- longer than the debounce
    H.eq(before, c:lua(STATS).requests, 'no request while typing what the suggestion says')
    -- One suggestion: next/previous keep it.
    c:input('<M-]>')
    c:input('<M-[>')
    wait_ghost(c, 'urn a + b')
    -- Dismiss: nothing on screen, the text stays as typed.
    c:input('<C-]>')
    c:wait([[local i = require('moecode')._ghost.info() return not i.visible]], 3000, 'dismissed')
    H.eq(0, c:lua(INFO).marks, 'no extmark after dismiss')
    H.eq('    ret', c:lua(LINES)[2], 'the buffer is unchanged')
    -- Next with nothing shown asks for one (the script answers the same text anywhere).
    c:input('<M-]>')
    wait_ghost(c, 'return a + b')
    -- Typing something else drops it (and asks again); leaving insert mode clears it.
    c:input('X')
    c:wait([[return not require('moecode')._ghost.info().visible]],
      3000, 'dropped after a different character')
    c:input('<Esc>')
    c:wait([[return not require('moecode')._ghost.info().visible]], 3000, 'cleared on InsertLeave')
    H.eq(0, c:lua(INFO).marks, 'no extmark in normal mode')
  end },

  { 'next/previous cycle through several suggestions; typing keeps those that agree', function()
    local c = start({ replies = {} })
    c:input('GA')
    c:wait([[return vim.api.nvim_get_mode().mode == 'i']], 3000, 'insert mode')
    c:lua([[require('moecode')._ghost._show(vim.api.nvim_get_current_buf(), { { text = 'return a', tail = '' }, { text = 'return b', tail = '' },
      { text = 'pass', tail = '' } }, 1, 4)]])
    wait_ghost(c, 'return a')
    c:input('<M-]>')
    wait_ghost(c, 'return b')
    c:input('<M-]>')
    wait_ghost(c, 'pass')
    c:input('<M-]>')
    wait_ghost(c, 'return a')
    c:input('<M-[>')
    wait_ghost(c, 'pass')
    c:input('r')
    wait_ghost(c, 'eturn a') -- 'pass' disagrees with 'r' and goes; the first that agrees is shown
    H.eq(2, c:lua(INFO).count, 'two suggestions left')
    c:input('<M-]>')
    wait_ghost(c, 'eturn b')
    c:input('<M-l>')
    c:wait([[return vim.api.nvim_get_current_line() == '    return b']], 3000, 'the selected one accepted')
  end },

  { 'mid-line suggestions: on 0.7-0.9 the rest of the line follows the ghost text; a replaced tail goes', function()
    local c = start({ replies = {} }, { ['m.py'] = { 'x = foo()' } })
    -- 0.10+ draws the first line 'inline': the rest of the line moves right by itself.
    local inline = c:lua([[return require('moecode')._ghost.style()]]) == 'inline'
    local function rest(chunk) return inline and {} or { chunk } end
    local MARK = [[
      local m = vim.api.nvim_buf_get_extmarks(0, require('moecode')._ghost.ns, 0, -1, { details = true })[1]
      return { col = m[3], virt_text = m[4].virt_text, virt_lines = m[4].virt_lines or {} }
    ]]
    local function show(items)
      c:lua([[require('moecode')._ghost._show(vim.api.nvim_get_current_buf(), ..., 0, 8)]], items)
    end
    c:input('0f(a')
    c:wait([[return vim.api.nvim_get_mode().mode == 'i' and vim.api.nvim_win_get_cursor(0)[2] == 8]], 3000, 'cursor in ()')
    show({ { text = 'a, b', tail = '' } })
    local m = c:lua(MARK)
    H.eq(8, m.col, 'at the cursor')
    H.eq({ { 'a, b', 'MoecodeSuggestion' }, unpack(rest({ ')', 'Normal' })) }, m.virt_text, 'ghost, then the rest of the line')
    c:input('<M-l>')
    c:wait([[return vim.api.nvim_get_current_line() == 'x = foo(a, b)']], 3000, 'inserted before the )')
    c:input('<Esc>0f(a')
    c:lua([[vim.api.nvim_set_current_line('x = foo()')]])
    c:wait([[return vim.api.nvim_win_get_cursor(0)[2] == 8]], 3000, 'cursor in () again')
    show({ { text = 'a,\n\tb', tail = '' } })
    m = c:lua(MARK)
    H.eq({ { 'a,', 'MoecodeSuggestion' } }, m.virt_text, 'the first line over the )')
    H.eq({ { { '        b', 'MoecodeSuggestion' }, unpack(rest({ ')', 'Normal' })) } }, m.virt_lines,
      'the next line (tab expanded), then the rest of the cursor line')
    c:input('<M-l>')
    c:wait([[return table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '|') == 'x = foo(a,|\tb)']], 3000,
      'two lines, the ) at the end')
    c:input('<Esc>')
    c:lua([[vim.api.nvim_buf_set_lines(0, 0, -1, false, { 'x = foo()' })]])
    c:input('0f(a')
    c:wait([[return vim.api.nvim_win_get_cursor(0)[2] == 8]], 3000, 'cursor in () once more')
    show({ { text = 'a)', tail = ')' } })
    m = c:lua(MARK)
    H.eq({ { 'a)', 'MoecodeSuggestion' }, unpack(rest({ '', 'Normal' })) }, m.virt_text, 'the replaced ) is not shown twice')
    c:input('<M-l>')
    c:wait([[return vim.api.nvim_get_current_line() == 'x = foo(a)']], 3000, 'the tail replaced')
  end },

  { 'typing cancels the request in flight; dismiss sends $/cancelRequest', function()
    -- 25 tokens of 300 ms: the server is still generating when the next key comes.
    local c = start({ tokenDelayMs = 300, replies = { { match = 'def add', text = string.rep('abcd', 25) } } })
    c:input('GA')
    c:input('x')
    c:wait([[return require('moecode')._ghost.info().in_flight]], 3000, 'a request in flight')
    c:input('y')
    c:wait([[return require('moecode')._ghost.stats.cancelled >= 1 and require('moecode')._ghost.info().in_flight]],
      3000, 'the first request cancelled, a new one in flight')
    -- Dismiss: no edit, so only $/cancelRequest can stop the server's generation.
    local s0 = server_completions(c)
    c:input('<C-]>')
    c:wait([[return not require('moecode')._ghost.info().in_flight]], 3000, 'nothing in flight')
    local deadline = (vim.uv or vim.loop).hrtime() + 5e9
    local s1
    repeat
      vim.wait(50)
      s1 = server_completions(c)
    until s1.cancelled > s0.cancelled or (vim.uv or vim.loop).hrtime() > deadline
    H.ok(s1.cancelled > s0.cancelled, 'the server cancelled the request: ' .. vim.inspect({ s0, s1 }))
    H.eq(s0.answered, s1.answered, 'and did not answer it')
    H.eq(false, c:lua(INFO).visible, 'nothing shown')
  end },

  { 'UTF-16 positions: a suggestion after non-ASCII text lands at the cursor', function()
    local c = start({ replies = { { match = 'é😀', text = ' + "!"' } } },
      { ['u.py'] = { 's = "é😀"' } })
    c:input('A')
    c:input('x<BS>')
    wait_ghost(c, ' + "!"')
    local info = c:lua(INFO)
    H.eq({ 0, #'s = "é😀"' }, { info.row, info.col }, 'anchored at the byte column of the cursor')
    c:input('<M-l>')
    c:wait([[return vim.api.nvim_get_current_line() == 's = "é😀" + "!"']], 3000, 'accepted after non-ASCII')
  end },

  { 'position helpers: utf-8, utf-16, utf-32', function()
    local c = H.child()
    local r = c:lua([[
      local u = require('moecode.util')
      local line = 'aé😀b'   -- bytes: a(1) é(2) 😀(4) b(1)
      return {
        u.to_lsp_col(line, 7, 'utf-16'), u.to_lsp_col(line, 7, 'utf-32'), u.to_lsp_col(line, 7, 'utf-8'),
        u.from_lsp_col(line, 4, 'utf-16'), u.from_lsp_col(line, 3, 'utf-32'), u.from_lsp_col(line, 99, 'utf-16'),
        u.split_lines('a\n\nb'), u.split_lines(''), u.expand_tabs('\tx', 2, 8),
      }
    ]])
    H.eq({ 4, 3, 7, 7, 7, 8, { 'a', '', 'b' }, { '' }, '      x' }, r, 'conversions')
  end },

  { 'accept on <Tab>: accepts a suggestion, and is a plain <Tab> when none is shown', function()
    local c = start({ replies = { { match = 'def add', text = 'return a + b' } } }, nil, "keymaps = { accept = '<Tab>' }")
    c:cmd('MoecodeToggle off') -- only the trigger key asks
    c:input('GA<Tab>')
    c:wait([[return vim.api.nvim_get_current_line() == '    \t']], 3000, 'a tab inserted')
    c:input('<BS><M-\\>') -- the trigger key right after an edit (the same typeahead)
    wait_ghost(c, 'return a + b')
    local line = c:lua([[return vim.api.nvim_get_current_line()]])
    c:input('<Tab>')
    c:wait([[return vim.api.nvim_get_current_line() == ...]], 3000, 'accepted with <Tab>', line .. 'return a + b')
  end },

  { ':MoecodeToggle off: no automatic requests; the trigger key still asks', function()
    local c = start({ replies = { { match = 'def add', text = 'return a + b' } } })
    c:cmd('MoecodeToggle off')
    c:input('GA')
    c:input('x<BS>')
    vim.wait(300)
    H.eq(0, c:lua(STATS).requests, 'no request while paused')
    c:input('<M-\\>')
    wait_ghost(c, 'return a + b')
    c:cmd('MoecodeToggle on')
  end },
})
