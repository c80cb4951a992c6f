-- Small helpers shared by the plugin's modules: version checks, client calls, positions.
local M = {}

local uv = vim.uv or vim.loop

--- True when the running Neovim is at least `version` ("0.10").
function M.has(version)
  return vim.fn.has('nvim-' .. version) == 1
end

--- Milliseconds from a monotonic clock.
function M.now_ms()
  return uv.hrtime() / 1e6
end

--- Calls a method of an LSP client object. Neovim 0.11 made them methods (client:request);
--- before that they were plain functions (client.request).
function M.call(client, name, ...)
  if M.has('0.11') then
    return client[name](client, ...)
  end
  return client[name](...)
end

--- Every active LSP client (get_clients is 0.10+, get_active_clients before).
function M.all_clients()
  if vim.lsp.get_clients then
    return vim.lsp.get_clients()
  end
  return vim.lsp.get_active_clients()
end

--- Splits `s` at every "\n" (keeps empty pieces; "" gives { "" }).
function M.split_lines(s)
  local out = {}
  local start = 1
  while true do
    local i = s:find('\n', start, true)
    if not i then
      out[#out + 1] = s:sub(start)
      return out
    end
    out[#out + 1] = s:sub(start, i - 1)
    start = i + 1
  end
end

-- Byte length of the UTF-8 character that starts with byte `b`.
local function char_len(b)
  if b < 0x80 then
    return 1
  elseif b >= 0xF0 then
    return 4
  elseif b >= 0xE0 then
    return 3
  elseif b >= 0xC0 then
    return 2
  end
  return 1 -- a stray continuation byte counts as one
end

-- Code units of one character of `len` bytes in `encoding`.
local function units(len, encoding)
  if encoding == 'utf-8' then
    return len
  elseif encoding == 'utf-32' then
    return 1
  end
  return len == 4 and 2 or 1 -- utf-16: characters outside the BMP are surrogate pairs
end

--- The LSP `character` of byte column `col` (0-based) of `line` in `encoding`.
function M.to_lsp_col(line, col, encoding)
  if encoding == 'utf-8' then
    return math.min(col, #line)
  end
  local i, n = 1, 0
  while i <= col and i <= #line do
    local len = char_len(line:byte(i))
    n = n + units(len, encoding)
    i = i + len
  end
  return n
end

--- The byte column (0-based) of LSP `character` in `line` (clamped to the line's end).
function M.from_lsp_col(line, character, encoding)
  if encoding == 'utf-8' then
    return math.min(character, #line)
  end
  local i, n = 1, 0
  while i <= #line and n < character do
    local len = char_len(line:byte(i))
    n = n + units(len, encoding)
    i = i + len
  end
  return i - 1
end

--- Expands tabs for display, `startcol` being the screen column where `s` begins.
function M.expand_tabs(s, startcol, tabstop)
  if not s:find('\t', 1, true) then
    return s
  end
  local out, col = {}, startcol
  for ch in s:gmatch('[%z\1-\127\194-\244][\128-\191]*') do
    if ch == '\t' then
      local n = tabstop - (col % tabstop)
      out[#out + 1] = string.rep(' ', n)
      col = col + n
    else
      out[#out + 1] = ch
      col = col + 1
    end
  end
  return table.concat(out)
end

--- Reports `msg` through vim.notify with the plugin's prefix.
function M.notify(msg, level)
  vim.notify('moecode: ' .. msg, level or vim.log.levels.INFO, { title = 'moecode' })
end

return M
