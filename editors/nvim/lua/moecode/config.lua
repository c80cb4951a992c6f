-- The plugin's options: defaults, validation, and what is sent to the server as settings.
local M = {}

--- Server settings that docs/lsp.md documents (sent as initializationOptions and through
--- workspace/didChangeConfiguration), with the Lua type each must have.
M.server_keys = {
  model = 'string',
  backend = 'string',
  threads = 'number',
  contextBudget = 'number',
  maxTokens = 'number',
  maxLines = 'number',
  temperature = 'number',
  debounceMs = 'number',
  enabledLanguages = 'table',
  remote = 'table',  -- a remote engine: { preset = 'vllm', baseUrl = ..., model = ..., apiKeyEnv = ... }
}

M.defaults = {
  -- The server command. `cmd` (a list) wins; else `path` (the binary) + `args`; else
  -- `moecode` from $PATH. Nothing is ever downloaded.
  cmd = nil,
  path = nil,
  args = {},
  -- Extra environment for the server process.
  cmd_env = nil,
  -- Filetypes whose buffers get the server; '*' for every buffer with a file name.
  filetypes = {
    'c', 'cpp', 'cs', 'go', 'java', 'javascript', 'javascriptreact', 'json', 'lua', 'php',
    'python', 'ruby', 'rust', 'sh', 'bash', 'typescript', 'typescriptreact',
  },
  -- A root is the nearest directory (upwards from the file) holding one of these; else
  -- the file's own directory. One server runs per root.
  root_markers = { '.git', '.hg', '.moecode', '.moecodeignore' },
  -- docs/lsp.md's settings; only the keys given here are sent (the server has defaults).
  settings = {},
  ghost = {
    enabled = true,      -- ask for suggestions while typing (false: only on `trigger`)
    debounce_ms = 60,    -- quiet time after a keystroke before the request is sent
    hl_group = 'MoecodeSuggestion',
    native = 'auto',     -- 'auto': Neovim's vim.lsp.inline_completion where it exists (0.12+)
  },
  -- Insert-mode keys; false disables one. <Plug>(moecode-...) mappings always exist.
  keymaps = {
    accept = '<M-l>',
    accept_word = '<M-w>',
    accept_line = '<M-j>',
    next = '<M-]>',
    prev = '<M-[>',
    dismiss = '<C-]>',
    trigger = '<M-\\>',
  },
  -- Set the buffer's 'omnifunc' to the LSP one when it is empty (CTRL-X CTRL-O).
  omnifunc = true,
  -- A crashed server is restarted after base_ms, then twice as long each time up to
  -- max_ms; a server that ran stable_ms resets the count; after max_restarts in a row
  -- the plugin stops trying (:MoecodeRestart starts it again).
  restart = { base_ms = 1000, max_ms = 30000, stable_ms = 60000, max_restarts = 8 },
}

-- Each option's allowed Lua types ('?' suffix: may be nil).
local option_types = {
  cmd = 'table?', path = 'string?', args = 'table', cmd_env = 'table?', filetypes = 'table|string',
  root_markers = 'table', settings = 'table', ghost = 'table', keymaps = 'table', omnifunc = 'boolean',
  restart = 'table',
}

local function validate(opts)
  for key, spec in pairs(option_types) do
    local v = opts[key]
    local ok = v == nil and spec:sub(-1) == '?'
    for t in spec:gsub('%?$', ''):gmatch('[^|]+') do
      ok = ok or type(v) == t
    end
    if not ok then
      error(string.format('moecode: option %s: expected %s, got %s', key, spec, type(v)))
    end
  end
  for key in pairs(opts) do
    if option_types[key] == nil then
      error(string.format("moecode: unknown option '%s' (see :h moecode-options)", key))
    end
  end
  for key, value in pairs(opts.settings) do
    local want = M.server_keys[key]
    if not want then
      error(string.format("moecode: settings.%s is not a server setting (see :h moecode-settings)", key))
    end
    if type(value) ~= want then
      error(string.format('moecode: settings.%s: expected a %s, got %s', key, want, type(value)))
    end
  end
end

--- Merges the user's options over the defaults and checks them (errors name the key).
function M.build(user)
  local opts = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), user or {})
  -- Lists replace the default list, they are not merged element by element.
  for _, key in ipairs({ 'filetypes', 'root_markers', 'args', 'cmd' }) do
    if user and user[key] ~= nil then
      opts[key] = user[key]
    end
  end
  if user and user.settings and user.settings.enabledLanguages then
    opts.settings.enabledLanguages = user.settings.enabledLanguages
  end
  if opts.keymaps == false then
    opts.keymaps = {}
  end
  validate(opts)
  if opts.settings.model and opts.settings.model ~= '' then
    opts.settings.model = vim.fn.expand(opts.settings.model)
  end
  return opts
end

--- The server command line (a list): cmd, else path/$PATH + 'serve --stdio' + args.
function M.command(opts)
  if opts.cmd then
    return vim.deepcopy(opts.cmd)
  end
  local cmd = { opts.path and vim.fn.expand(opts.path) or 'moecode', 'serve', '--stdio' }
  vim.list_extend(cmd, opts.args or {})
  return cmd
end

--- The settings sent to the server (a copy; `vim.empty_dict()` when none are given so
--- that they encode as a JSON object).
function M.server_settings(opts)
  local s = vim.deepcopy(opts.settings)
  if next(s) == nil then
    return vim.empty_dict()
  end
  return s
end

--- True when buffers of `filetype` get the server.
function M.wants_filetype(opts, filetype)
  if filetype == nil or filetype == '' then
    return false
  end
  if opts.filetypes == '*' then
    return true
  end
  for _, ft in ipairs(opts.filetypes) do
    if ft == '*' or ft == filetype then
      return true
    end
  end
  return false
end

--- The model file the server would use: settings.model, $MOECODE_MODEL,
--- <root>/models/default.gguf, then the cache of scripts/setup (like `moecode`).
function M.model_path(opts, root)
  if opts.settings.model and opts.settings.model ~= '' then
    return opts.settings.model, 'settings.model'
  end
  local env = vim.env.MOECODE_MODEL
  if env and env ~= '' then
    return env, '$MOECODE_MODEL'
  end
  local candidates = {}
  candidates[#candidates + 1] = (root or vim.fn.getcwd()) .. '/models/default.gguf'
  local cache = vim.env.XDG_CACHE_HOME
  if not cache or cache == '' then
    cache = (vim.env.HOME or '/tmp') .. '/.cache'
  end
  candidates[#candidates + 1] = cache .. '/moecode/models/default.gguf'
  for _, p in ipairs(candidates) do
    if vim.fn.filereadable(p) == 1 then
      return p, 'default'
    end
  end
  return nil, table.concat(candidates, ', ')
end

return M
