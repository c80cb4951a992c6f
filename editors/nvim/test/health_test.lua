-- Acceptance: `:checkhealth moecode` reports OK (binary, version, model, server start), no ERROR.
local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h') .. '/helpers.lua')

-- Runs :checkhealth moecode in the child and returns the report's lines.
local function checkhealth(c)
  c:cmd('checkhealth moecode')
  return c:lua([[return vim.api.nvim_buf_get_lines(0, 0, -1, false)]])
end

local function grep(lines, pattern)
  local out = {}
  for _, l in ipairs(lines) do
    if l:find(pattern) then
      out[#out + 1] = l
    end
  end
  return out
end

H.run({
  { ':checkhealth moecode: OK for the binary, version, model, server start and the running server', function()
    local model = H.default_model()
    local ws = H.workspace({ ['main.py'] = { 'x = 1' } })
    local c = H.child()
    c:lua([[require('moecode').setup({ path = ..., settings = { model = select(2, ...) } })]], H.binary, model)
    H.edit(c, ws .. '/main.py')
    H.wait_client(c)
    if model then
      c:wait([[local e = require('moecode')._clients.entries()[1] return e.status and e.status.state == 'ready']],
        15000, 'moecode/status ready')
    end
    local lines = checkhealth(c)
    H.log(table.concat(lines, '\n'))
    H.ok(#grep(lines, 'moecode') > 0, 'a report for moecode')
    H.eq({}, grep(lines, 'ERROR'), 'no ERROR line')
    local function ok_line(pattern, what)
      H.ok(#grep(lines, 'OK.*' .. pattern) == 1, what .. ' (' .. pattern .. ')')
    end
    ok_line('setup%(%) was called', 'setup')
    ok_line('binary: /', 'binary found')
    ok_line('version: moecode %d', 'version from moecode --version')
    ok_line('initializes', 'the server starts and initializes')
    ok_line('inline completion', 'inline completion offered')
    if model then
      ok_line('model: ' .. vim.pesc(model), 'model found')
      ok_line('ready', 'the running server is ready')
    else
      H.log('# no default model here: the model check is a warning')
      H.ok(#grep(lines, 'WARNING.*no model found') == 1, 'the missing model is a warning')
    end
  end },

  { ':checkhealth moecode: a missing binary is an ERROR that says what to do', function()
    local c = H.child()
    c:lua([[require('moecode').setup({ path = '/nonexistent/moecode' })]])
    local lines = checkhealth(c)
    local errors = grep(lines, 'ERROR')
    H.eq(1, #errors, 'one ERROR: ' .. vim.inspect(errors))
    H.ok(errors[1]:find('/nonexistent/moecode', 1, true), 'names the path')
    H.ok(#grep(lines, 'path = ') >= 1, 'advice on the path option')
  end },

  { ':checkhealth moecode: a server that cannot start is an ERROR', function()
    local c = H.child()
    -- An option the server does not know: it exits at once with a usage error.
    c:lua([[require('moecode').setup({ path = ..., args = { '--no-such-option' } })]], H.binary)
    local lines = checkhealth(c)
    H.ok(#grep(lines, 'ERROR.*did not initialize') == 1, 'the failed start is reported: ' .. table.concat(lines, '\n'))
  end },
})
