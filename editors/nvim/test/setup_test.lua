-- setup(): one client per root, settings reach the server, a second call changes nothing twice.
local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h') .. '/helpers.lua')

-- What setup() registered in the child: autocmds of our group, buffer-local insert-mode
-- keymaps of the current buffer, <Plug> mappings, user commands, moecode clients.
local REGISTERED = [[
  local keys = {}
  for _, m in ipairs(vim.api.nvim_buf_get_keymap(0, 'i')) do
    if (m.desc or ''):find('^moecode') then keys[#keys + 1] = m.lhs end
  end
  table.sort(keys)
  local plugs = 0
  for _, m in ipairs(vim.api.nvim_get_keymap('i')) do
    if m.lhs:find('moecode', 1, true) then plugs = plugs + 1 end
  end
  local cmds = {}
  for name in pairs(vim.api.nvim_get_commands({})) do
    if name:find('^Moecode') then cmds[#cmds + 1] = name end
  end
  table.sort(cmds)
  local ids = {}
  for _, cl in ipairs(require('moecode')._util.all_clients()) do
    if cl.name == 'moecode' then ids[#ids + 1] = cl.id end
  end
  table.sort(ids)
  return { autocmds = #vim.api.nvim_get_autocmds({ group = 'moecode' }), keys = keys, plugs = plugs,
           cmds = cmds, clients = ids }
]]

local STATUS = [[
  local cl = require('moecode')._clients.get(vim.api.nvim_get_current_buf())
  local r = require('moecode')._util.call(cl, 'request_sync', 'workspace/executeCommand', { command = 'moecode.status' }, 5000, 0)
  return r and r.result and { config = r.result.config and { maxTokens = r.result.config.maxTokens, maxLines = r.result.config.maxLines } }
]]

H.run({
  { 'setup twice: one client per root, one set of autocmds and keymaps; new settings reach the server', function()
    local a = H.workspace({ ['one.py'] = { 'x = 1' }, ['sub/two.py'] = { 'y = 2' } })
    local b = H.workspace({ ['three.py'] = { 'z = 3' } })
    local script = H.script({ replies = { { match = '', text = 'print(x)' } } })
    local c = H.child()
    c:lua([[require('moecode').setup({ path = ..., args = { '--scripted-generator', select(2, ...) },
            settings = { maxTokens = 16, maxLines = 3 } })]], H.binary, script)
    H.edit(c, a .. '/one.py')
    local id1 = H.wait_client(c)
    local first = c:lua(REGISTERED)
    H.eq({ id1 }, first.clients, 'one client')
    H.eq(7, #first.keys, 'seven insert-mode keymaps in the buffer')
    H.eq({ 'MoecodeContext', 'MoecodeFix', 'MoecodeRestart', 'MoecodeRewrite', 'MoecodeStatus', 'MoecodeToggle',
      'MoecodeTranslate' }, first.cmds, 'commands')
    local st = c:lua(STATUS)
    H.eq(16, st.config.maxTokens, 'initializationOptions: maxTokens')
    H.eq(3, st.config.maxLines, 'initializationOptions: maxLines')

    -- The same root (a file in a subfolder, with .git above it) shares the client.
    H.edit(c, a .. '/sub/two.py')
    H.eq(id1, H.wait_client(c), 'same root, same client')
    H.edit(c, a .. '/one.py')

    -- Second setup(): other settings and another accept key.
    c:lua([[require('moecode').setup({ path = ..., args = { '--scripted-generator', select(2, ...) },
            settings = { maxTokens = 20, maxLines = 3 }, keymaps = { accept = '<M-a>' } })]], H.binary, script)
    local second = c:lua(REGISTERED)
    H.eq(first.autocmds, second.autocmds, 'autocmds after the second setup()')
    H.eq(first.plugs, second.plugs, '<Plug> mappings after the second setup()')
    H.eq(first.cmds, second.cmds, 'commands after the second setup()')
    H.eq({ id1 }, second.clients, 'still the one client')
    H.eq(#first.keys, #second.keys, 'as many keymaps as before')
    H.ok(vim.tbl_contains(second.keys, '<M-A>') or vim.tbl_contains(second.keys, '<M-a>'), 'the new accept key')
    H.ok(not vim.tbl_contains(second.keys, '<M-L>') and not vim.tbl_contains(second.keys, '<M-l>'),
      'the old accept key is gone')
    c:wait([[local st = (function() ]] .. STATUS .. [[ end)() return st and st.config.maxTokens == 20]], 5000,
      'maxTokens 20 through workspace/didChangeConfiguration')

    -- Typing asks once (the autocmds are not doubled) and the new key accepts.
    c:input('A')
    c:input(' ')
    c:wait([[return require('moecode')._ghost.info().visible]], 5000, 'ghost text')
    H.eq(1, c:lua([[return require('moecode')._ghost.stats.requests]]), 'one request for one keystroke')
    c:input('<M-a>')
    c:wait([[return vim.api.nvim_get_current_line() == 'x = 1 print(x)']], 5000, 'accepted with <M-a>')

    -- Another root gets its own client.
    c:input('<Esc>')
    H.edit(c, b .. '/three.py')
    local id2 = H.wait_client(c)
    H.ok(id2 ~= id1, 'another root, another client')
    H.eq(2, #c:lua(REGISTERED).clients, 'two clients for two roots')
    H.eq(2, c:lua([[return #require('moecode')._clients.entries()]]), 'two roots')
  end },

  { 'a buffer of another filetype gets no client; a bad setting is reported by name', function()
    local a = H.workspace({ ['notes.txt'] = { 'hello' } })
    local c = H.child()
    c:lua([[require('moecode').setup({ path = ... })]], H.binary)
    H.edit(c, a .. '/notes.txt')
    vim.wait(300)
    H.eq(0, c:lua([[return #require('moecode')._clients.entries()]]), 'no root for a text file')
    local err = c:lua([[local ok, e = pcall(require('moecode').setup, { settings = { maxTokens = 'many' } }) return e]])
    H.ok(tostring(err):find('settings.maxTokens', 1, true), 'error names the key: ' .. tostring(err))
    err = c:lua([[local ok, e = pcall(require('moecode').setup, { settings = { maxTokenz = 1 } }) return e]])
    H.ok(tostring(err):find('maxTokenz', 1, true), 'unknown key named: ' .. tostring(err))
    err = c:lua([[local ok, e = pcall(require('moecode').setup, { modle = 'x.gguf' }) return e]])
    H.ok(tostring(err):find("unknown option 'modle'", 1, true), 'unknown option named: ' .. tostring(err))
    err = c:lua([[local ok, e = pcall(require('moecode').setup, { filetypes = 3 }) return e]])
    H.ok(tostring(err):find('option filetypes', 1, true), 'bad type named: ' .. tostring(err))
  end },
})
