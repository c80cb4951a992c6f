-- Acceptance: a killed server is restarted with backoff (1 s, 2 s) and the user is told once.
local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h') .. '/helpers.lua')

local uv = vim.uv or vim.loop

local PID = [[
  local clients = require('moecode')._clients
  return clients.get(0) and clients.pid(clients.entry_of(0))
]]

-- The child's notifications: { moecode = {...}, quit = n } (quit: Neovim's own
-- "Client N quit with exit code" warnings that reached the user).
local NOTES = [[
  local out = { moecode = {}, quit = 0 }
  for _, n in ipairs(_G.notes) do
    if n.msg:find('^moecode:') then table.insert(out.moecode, n.msg) end
    if n.msg:find('quit with exit code', 1, true) then out.quit = out.quit + 1 end
  end
  return out
]]

local function start(opts_code)
  local ws = H.workspace({ ['main.py'] = { 'def add(a, b):', '    ' } })
  local script = H.script({ replies = { { match = 'def add', text = 'return a + b' } } })
  local c = H.child()
  c:lua([[require('moecode').setup({ path = ..., args = { '--scripted-generator', select(2, ...) }, ]] ..
    (opts_code or '') .. ' })', H.binary, script)
  H.edit(c, ws .. '/main.py')
  return c, H.wait_client(c)
end

-- Kills the server of the current buffer; returns the time of the kill.
local function kill(c)
  local pid = c:lua(PID)
  H.ok(type(pid) == 'number' and pid > 0, 'the server pid')
  uv.kill(pid, 'sigkill')
  return uv.hrtime()
end

-- Waits for a client other than `old` to initialize; returns its id and the seconds since `t0`.
local function wait_new(c, old, t0, timeout_ms)
  local id = c:wait([[
    local cl = require('moecode')._clients.get(vim.api.nvim_get_current_buf())
    return cl and cl.id ~= ... and cl.id
  ]], timeout_ms or 20000, 'a restarted server', old)
  return id, (uv.hrtime() - t0) / 1e9
end

local function ghost_works(c)
  c:input('GA')
  c:input('x<BS>')
  c:wait([[return require('moecode')._ghost.info().text == 'return a + b']], 5000, 'ghost text from the new server')
  c:input('<Esc>')
end

H.run({
  { 'kill the server twice: restarts after 1 s then 2 s, one notification, buffer reattached', function()
    local c, id1 = start()
    ghost_works(c)
    local t1 = kill(c)
    local id2, dt1 = wait_new(c, id1, t1)
    H.log(string.format('# first restart after %.2f s', dt1))
    -- The delay is exact (entry.delays below); the upper bounds leave room for a slow start.
    H.ok(dt1 >= 0.95 and dt1 < 6, string.format('first restart after ~1 s (%.2f s)', dt1))
    ghost_works(c)
    local t2 = kill(c)
    local id3, dt2 = wait_new(c, id2, t2)
    H.log(string.format('# second restart after %.2f s', dt2))
    H.ok(dt2 >= 1.95 and dt2 < 8, string.format('second restart after ~2 s (%.2f s)', dt2))
    H.eq({ 1000, 2000 }, c:lua([[return require('moecode')._clients.entries()[1].delays]]), 'backoff delays')
    H.eq(true, c:lua([[return vim.lsp.buf_is_attached(0, ...)]], id3), 'the buffer is attached to the new server')
    ghost_works(c)
    vim.wait(300) -- let any late notification arrive
    local notes = c:lua(NOTES)
    H.eq(1, #notes.moecode, 'one notification for two crashes: ' .. vim.inspect(notes.moecode))
    H.ok(notes.moecode[1]:find('restarting', 1, true), 'it says the server is restarted: ' .. notes.moecode[1])
    H.eq(0, notes.quit, "Neovim's own per-crash warning is not shown")
    H.eq(2, c:lua([[return require('moecode')._clients.entries()[1].restarts]]), 'two restarts')
  end },

  { 'a server that ran for the stable period starts a new streak (1 s again, told again)', function()
    local c, id1 = start('restart = { stable_ms = 1500 }')
    local id2 = wait_new(c, id1, kill(c))
    vim.wait(1700) -- longer than stable_ms
    local _, dt = wait_new(c, id2, kill(c))
    H.ok(dt >= 0.95, string.format('restarted after the delay (%.2f s)', dt))
    H.eq({ 1000, 1000 }, c:lua([[return require('moecode')._clients.entries()[1].delays]]), 'delays')
    H.eq(2, #c:lua(NOTES).moecode, 'one notification per streak')
  end },

  { 'after max_restarts crashes in a row it stops and says so; :MoecodeRestart starts it again', function()
    local c, id1 = start('restart = { base_ms = 100, max_restarts = 1 }')
    local id2 = wait_new(c, id1, kill(c))
    kill(c)
    c:wait([[return require('moecode')._clients.entries()[1].gave_up]], 3000, 'giving up')
    vim.wait(300)
    H.eq(false, c:lua([[return require('moecode')._clients.get(0) ~= nil]]), 'no client after giving up')
    local notes = c:lua(NOTES).moecode
    H.eq(2, #notes, 'the restart notice and the giving-up error')
    H.ok(notes[2]:find(':MoecodeRestart', 1, true), 'says how to start it again: ' .. notes[2])
    H.ok(c:lua([[return table.concat(require('moecode.commands').status_lines(), '\n')]]):find('stopped after repeated crashes', 1, true),
      ':MoecodeStatus says why')
    c:cmd('MoecodeRestart')
    wait_new(c, id2, uv.hrtime())
    ghost_works(c)
  end },

  { ':MoecodeRestart and :LspStop-like stops are not crashes', function()
    local c, id1 = start()
    c:cmd('MoecodeRestart')
    local id2 = wait_new(c, id1, uv.hrtime())
    ghost_works(c)
    c:lua([[require('moecode')._util.call(vim.lsp.get_client_by_id(...), 'stop')]], id2)
    vim.wait(1500)
    H.eq(false, c:lua([[return require('moecode')._clients.get(0) ~= nil]]), 'a stopped server stays stopped')
    H.eq(0, #c:lua(NOTES).moecode, 'no crash notification')
  end },
})
