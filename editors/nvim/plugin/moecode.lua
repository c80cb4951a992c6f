-- Loaded once at startup: defines the :Moecode* commands; require('moecode').setup{} starts the rest.
if vim.g.loaded_moecode then
  return
end
vim.g.loaded_moecode = 1

if vim.fn.has('nvim-0.7') == 0 then
  vim.api.nvim_echo({ { 'moecode: Neovim 0.7 or newer is needed', 'ErrorMsg' } }, true, {})
  return
end

require('moecode.commands').create()
