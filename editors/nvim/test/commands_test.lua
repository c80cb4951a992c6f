-- :MoecodeContext, :MoecodeStatus, moecode/status, omnifunc completion items.
local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h') .. '/helpers.lua')

local function start()
  local ws = H.workspace({
    ['util.py'] = { 'def helper(x):', '    return x * 2' },
    ['main.py'] = { 'from util import helper', '', 'def run(v):', '    return x', '', '# end of file' },
  })
  local c = H.child()
  c:lua([[require('moecode').setup({ path = ..., args = { '--scripted-generator', select(2, ...) } })]], H.binary,
    H.script({ replies = { { match = 'def run', text = 'helper(v)' } } }))
  H.edit(c, ws .. '/main.py')
  H.wait_client(c)
  return c, ws
end

H.run({
  { 'doc/moecode.txt: :helptags accepts it and finds the tags the docs point to', function()
    local dir = H.tmpdir()
    vim.fn.writefile(vim.fn.readfile(H.plugin_dir .. '/doc/moecode.txt'), dir .. '/moecode.txt')
    local c = H.child()
    c:cmd('helptags ' .. dir) -- raises on a duplicate tag
    local tags = {}
    for _, l in ipairs(vim.fn.readfile(dir .. '/tags')) do
      tags[l:match('^[^\t]+')] = true
    end
    for _, t in ipairs({ 'moecode.txt', 'moecode.setup()', 'moecode-options', 'moecode-settings', 'moecode-keys',
      ':MoecodeContext', ':MoecodeStatus', ':MoecodeRestart', ':MoecodeToggle', 'moecode-restart', 'moecode-health',
      'hl-MoecodeSuggestion', 'moecode-fix', ':MoecodeFix', ':MoecodeRewrite', ':MoecodeTranslate' }) do
      H.ok(tags[t], 'tag ' .. t)
    end
    -- Every |link| to a moecode tag resolves.
    local text = table.concat(vim.fn.readfile(dir .. '/moecode.txt'), '\n')
    for link in text:gmatch('|([^|%s]+)|') do
      if link:find('moecode', 1, true) or link:find('Moecode', 1, true) then
        H.ok(tags[link], 'link |' .. link .. '| has a tag')
      end
    end
  end },

  { ':MoecodeContext opens a scratch buffer with the packed context of the cursor', function()
    local c = start()
    c:lua([[vim.api.nvim_win_set_cursor(0, { 4, 11 })]]) -- on the 'x'
    local src = c:lua([[return vim.api.nvim_get_current_buf()]])
    c:cmd('MoecodeContext')
    local r = c:lua([[return { buf = vim.api.nvim_get_current_buf(), name = vim.api.nvim_buf_get_name(0),
      buftype = vim.bo.buftype, modifiable = vim.bo.modifiable, lines = vim.api.nvim_buf_get_lines(0, 0, -1, false) }]])
    H.ok(r.buf ~= src, 'a new buffer')
    H.ok(r.name:find('moecode://context', 1, true), 'named moecode://context: ' .. r.name)
    H.eq('nofile', r.buftype, 'a scratch buffer')
    H.eq(false, r.modifiable, 'read-only')
    local text = table.concat(r.lines, '\n')
    H.log('# context:\n' .. text)
    H.ok(text:find('%d+ tokens'), 'the token count')
    local cursor = text:find('<CURSOR>', 1, true)
    H.ok(cursor, 'the cursor marker')
    H.ok(text:find('def run(v):\n    return <CURSOR>x', 1, true), 'the prefix ends at the cursor')
    H.ok(text:find('# end of file', cursor, true), 'the suffix after the cursor')
    -- A second call replaces the buffer instead of adding one.
    c:cmd('wincmd p')
    c:cmd('MoecodeContext')
    H.eq(1, c:lua([[local n = 0 for _, b in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_get_name(b):find('moecode://context', 1, true) then n = n + 1 end end return n]]),
      'one context buffer')
  end },

  { 'moecode/status reaches the plugin; :MoecodeStatus and the statusline show it', function()
    local c = start()
    local st = c:wait([[local e = require('moecode')._clients.entries()[1]
      return e.status and e.status.state ~= 'loading' and e.status]], 10000, 'a moecode/status notification')
    H.log('# moecode/status: ' .. vim.inspect(st))
    H.ok(st.state == 'ready', 'the scripted generator is ready: ' .. tostring(st.state))
    H.ok(type(st.model) == 'string' and st.model ~= '', 'model named')
    local lines = c:lua([[return require('moecode.commands').status_lines()]])
    local text = table.concat(lines, '\n')
    H.log('# :MoecodeStatus\n' .. text)
    H.ok(text:find('state ready', 1, true), ':MoecodeStatus shows the state')
    H.ok(text:find('pid %d+'), ':MoecodeStatus shows the pid')
    H.ok(text:find('completions: %d+ requested'), ':MoecodeStatus shows the server counters')
    local msgs = c:lua([[vim.cmd('MoecodeStatus') return vim.fn.execute('messages')]])
    H.ok(type(msgs) == 'string', 'the command runs')
    c:wait([[return require('moecode').statusline() == 'moecode: ready']], 5000, 'statusline "moecode: ready"')
    c:cmd('MoecodeToggle off')
    H.eq('moecode: ready (paused)', c:lua([[return require('moecode').statusline()]]), 'statusline when paused')
  end },

  { 'omnifunc: CTRL-X CTRL-O lists the server completion item (for omnifunc and nvim-cmp users)', function()
    local c = start()
    H.eq('v:lua.vim.lsp.omnifunc', c:lua([[return vim.bo.omnifunc]]), 'omnifunc set')
    c:lua([[vim.api.nvim_buf_set_lines(0, 3, 4, false, { '    return ' })]])
    c:lua([[vim.api.nvim_win_set_cursor(0, { 4, 10 })]])
    c:input('A<C-x><C-o>')
    c:wait([[return vim.fn.pumvisible() == 1 or vim.api.nvim_get_current_line() ~= '    return ']], 5000,
      'the completion menu or an inserted item')
    c:wait([[return vim.api.nvim_get_current_line() == '    return helper(v)']], 5000, 'the item inserted')
  end },
})
