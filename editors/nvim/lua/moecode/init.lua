-- moecode for Neovim: setup() wires the server, ghost text, keymaps and commands together.
local config = require('moecode.config')
local clients = require('moecode.client')
local ghost = require('moecode.ghost')
local util = require('moecode.util')

local M = {}

local api = vim.api
local opts -- the options of the last setup()
local GROUP = 'moecode'

-- bufnr -> { [lhs] = true }: the buffer-local keymaps we set, so that a second setup()
-- with other keys removes the old ones.
local mapped = {}

-- The actions behind the keymaps; each returns true when it did something. When one did
-- nothing, the key does what it does without the plugin (<Tab>, <C-]>...), except Alt
-- chords: unmapped, they leave insert mode, which nobody pressing them wants.
local actions = {
  accept = function() return ghost.accept('all') end,
  accept_word = function() return ghost.accept('word') end,
  accept_line = function() return ghost.accept('line') end,
  next = function() return ghost.cycle(1) end,
  prev = function() return ghost.cycle(-1) end,
  dismiss = function() return ghost.dismiss() end,
  trigger = function() return ghost.trigger() end,
}
local native_actions = { accept = true, next = true, prev = true, trigger = true }

local function plug(name)
  return '<Plug>(moecode-' .. name:gsub('_', '-') .. ')'
end

local function map_buffer(bufnr)
  local old = mapped[bufnr] or {}
  local now = {}
  for name, lhs in pairs(opts.keymaps) do
    if lhs and actions[name] and (not ghost.native() or native_actions[name]) then
      local alt = lhs:lower():find('^<[ma]%-') ~= nil
      vim.keymap.set('i', lhs, function()
        if not actions[name]() and not alt then
          api.nvim_feedkeys(api.nvim_replace_termcodes(lhs, true, false, true), 'n', false)
        end
      end, { buffer = bufnr, silent = true, desc = 'moecode: ' .. name:gsub('_', ' ') })
      now[lhs] = true
    end
  end
  for lhs in pairs(old) do
    if not now[lhs] then
      pcall(vim.keymap.del, 'i', lhs, { buffer = bufnr })
    end
  end
  mapped[bufnr] = now
end

local function attach(bufnr)
  if not config.wants_filetype(opts, vim.bo[bufnr].filetype) then
    return
  end
  if not clients.attach(bufnr) and not clients.entry_of(bufnr) then
    return
  end
  map_buffer(bufnr)
  if opts.omnifunc and vim.bo[bufnr].omnifunc == '' then
    vim.bo[bufnr].omnifunc = 'v:lua.vim.lsp.omnifunc'
  end
  if ghost.native() then
    pcall(vim.lsp.inline_completion.enable, ghost.is_enabled(), { bufnr = bufnr })
  end
end

local function ours(bufnr)
  return clients.entry_of(bufnr) ~= nil
end

local function create_autocmds()
  local group = api.nvim_create_augroup(GROUP, { clear = true })
  local au = function(events, fn)
    api.nvim_create_autocmd(events, { group = group, callback = fn })
  end
  au('FileType', function(a) attach(a.buf) end)
  au({ 'TextChangedI', 'CursorMovedI' }, function(a)
    if ours(a.buf) and not ghost.native() then
      ghost.on_change(a.buf)
    end
  end)
  au({ 'InsertLeave', 'BufLeave' }, function(a)
    if ours(a.buf) then
      ghost.on_leave(a.buf)
    end
  end)
  au({ 'BufWipeout' }, function(a)
    clients.detach(a.buf)
    ghost.forget(a.buf)
    mapped[a.buf] = nil
  end)
end

local function create_plug_mappings()
  for name, fn in pairs(actions) do
    vim.keymap.set('i', plug(name), function() fn() end, { silent = true, desc = 'moecode: ' .. name })
  end
end

--- Starts moecode. Safe to call again: options are replaced, running servers get the new
--- settings (or are restarted when the command changed), nothing is registered twice.
function M.setup(user)
  local new = config.build(user)
  opts = new
  ghost.configure(new)
  clients.configure(new)
  api.nvim_set_hl(0, 'MoecodeSuggestion', { link = 'Comment', default = true })
  create_autocmds()
  create_plug_mappings()
  require('moecode.commands').create()
  -- Buffers that are already open (setup() after the files were loaded, or a second call).
  for _, bufnr in ipairs(api.nvim_list_bufs()) do
    if api.nvim_buf_is_loaded(bufnr) and vim.bo[bufnr].filetype ~= '' then
      attach(bufnr)
    end
  end
end

--- The options in force (nil before setup()).
function M.options()
  return opts
end

-- Actions, for mappings of your own.
M.accept = actions.accept
M.accept_word = actions.accept_word
M.accept_line = actions.accept_line
M.next = actions.next
M.prev = actions.prev
M.dismiss = actions.dismiss
M.trigger = actions.trigger

--- Turns suggestions while typing on/off (nil: flip); returns the new state.
function M.toggle(on)
  return ghost.toggle(on)
end

function M.restart()
  clients.restart()
end

--- A short state for a statusline: "moecode: ready", "moecode: indexing 40%", ...
function M.statusline()
  local entry = clients.entry_of(api.nvim_get_current_buf())
  if not entry then
    return ''
  end
  if not clients.client_of(entry) then
    return entry.timer and 'moecode: restarting' or 'moecode: stopped'
  end
  local st = entry.status
  if not st then
    return 'moecode: starting'
  end
  if type(st.indexing) == 'table' and st.indexing.active then
    return 'moecode: indexing' .. (st.indexing.percentage and (' ' .. st.indexing.percentage .. '%') or '')
  end
  local names = { ready = 'ready', loading = 'loading model', noModel = 'no model', error = 'error' }
  local s = 'moecode: ' .. (names[st.state] or tostring(st.state))
  if not ghost.is_enabled() then
    s = s .. ' (paused)'
  end
  return s
end

-- For tests and health: the modules behind the plugin.
M._clients = clients
M._ghost = ghost
M._util = util

return M
