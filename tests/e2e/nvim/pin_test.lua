-- Drives Neovim's built-in LSP client (0.7 API, so Debian 12's 0.7.2 works)
-- against `dockpin lsp`. Run by tests/e2e/test_neovim.py as
--
--   nvim --headless -u NONE -i NONE -n -c 'luafile pin_test.lua' Dockerfile
--
-- Environment:
--   DOCKPIN_NVIM_SCENARIO  "pin" (default): wait for DP003, request the code
--                          action, apply "Pin python:3.12 ...", :write.
--                          "sync": edit the buffer with nvim_buf_set_lines /
--                          nvim_buf_set_text and check the diagnostics follow.
--                          "lens": run the "Pin all" code lens.
--                          "attached": the client was started by an init file
--                          (the docs' snippet); only wait for DP003.
--   DOCKPIN_CMD            JSON list: the server command (not for "attached").
--   DOCKPIN_NVIM_DIGEST    "sync": the digest to pin by hand.
--   DOCKPIN_NVIM_SEVERITY  "attached": wait until DP003 has this severity.
--   DOCKPIN_NVIM_TIMEOUT   milliseconds for each wait (default 20000).
--
-- Prints one JSON status line on stdout; exits 0 (`qall!`) on success and 1
-- (`cquit 1`) with {"ok": false, "error": ...} on failure.

local scenario = os.getenv('DOCKPIN_NVIM_SCENARIO') or 'pin'
local timeout = tonumber(os.getenv('DOCKPIN_NVIM_TIMEOUT') or '') or 20000
local status = { ok = false, scenario = scenario, nvim = tostring(vim.version().major) .. '.'
  .. tostring(vim.version().minor) .. '.' .. tostring(vim.version().patch) }

local function emit()
  io.stdout:write(vim.fn.json_encode(status) .. '\n')
  io.stdout:flush()
end

local function fail(message)
  status.ok = false
  status.error = message
  emit()
  vim.cmd('cquit 1')
end

-- Set when the server process ends (see start()), so a crash fails fast.
local server_exit

local function wait_for(what, predicate)
  local done = vim.wait(timeout, function()
    return server_exit ~= nil or predicate()
  end, 50)
  if server_exit ~= nil and not predicate() then
    error(string.format('the server exited (code %s, signal %s) while waiting for %s',
      server_exit.code, server_exit.signal, what), 0)
  end
  if not done then
    error(string.format('timed out after %d ms waiting for %s', timeout, what), 0)
  end
end

local bufnr = vim.api.nvim_get_current_buf()

local function dockpin_diagnostics()
  local found = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    if d.source == 'dockpin' then
      table.insert(found, d)
    end
  end
  table.sort(found, function(a, b)
    return a.lnum < b.lnum or (a.lnum == b.lnum and tostring(a.code) < tostring(b.code))
  end)
  return found
end

local function summary()
  local out = {}
  for _, d in ipairs(dockpin_diagnostics()) do
    table.insert(out, { code = d.code, lnum = d.lnum, col = d.col, end_col = d.end_col,
      severity = d.severity })
  end
  return out
end

local function dp003_lines()
  local lines = {}
  for _, d in ipairs(dockpin_diagnostics()) do
    if d.code == 'DP003' then
      table.insert(lines, d.lnum)
    end
  end
  return lines
end

local function same(a, b)
  return vim.deep_equal(a, b)
end

local function dockpin_client()
  for _, client in pairs(vim.lsp.buf_get_clients(bufnr)) do
    if client.name == 'dockpin' then
      return client
    end
  end
  return nil
end

-- Start the server the way docs/editors.md shows for Neovim 0.7: one client,
-- attached to every buffer whose filetype is dockerfile.
local function start()
  local cmd = vim.fn.json_decode((assert(os.getenv('DOCKPIN_CMD'), 'DOCKPIN_CMD is not set')))
  local client_id
  vim.cmd('filetype on')
  vim.api.nvim_create_autocmd('FileType', {
    pattern = 'dockerfile',
    callback = function(args)
      client_id = client_id or vim.lsp.start_client({
        name = 'dockpin',
        cmd = cmd,
        root_dir = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(args.buf), ':p:h'),
        on_exit = function(code, signal)
          server_exit = { code = code, signal = signal }
        end,
      })
      if not client_id then
        error('vim.lsp.start_client failed', 0)
      end
      vim.lsp.buf_attach_client(args.buf, client_id)
    end,
  })
  vim.cmd('edit') -- reload: filetype detection now fires FileType
  if vim.bo[bufnr].filetype ~= 'dockerfile' then
    error('filetype detection gave ' .. vim.inspect(vim.bo[bufnr].filetype), 0)
  end
end

local function wait_attached()
  wait_for('the dockpin client to initialize', function()
    local client = dockpin_client()
    return client ~= nil and client.initialized == true
  end)
  return dockpin_client()
end

local function first_dp003()
  for _, d in ipairs(dockpin_diagnostics()) do
    if d.code == 'DP003' then
      return d
    end
  end
  return nil
end

-- The "pin" scenario: what a user does with vim.lsp.buf.code_action(), minus
-- the vim.ui.select prompt.
local function pin()
  local client = wait_attached()
  local provider = client.server_capabilities.codeActionProvider
  status.resolve_provider = type(provider) == 'table' and provider.resolveProvider == true
  wait_for('the DP003 diagnostic', function()
    return first_dp003() ~= nil
  end)
  local diagnostic = first_dp003()
  status.before = summary()

  vim.api.nvim_win_set_cursor(0, { diagnostic.lnum + 1, diagnostic.col })
  local params = vim.lsp.util.make_range_params(0, client.offset_encoding)
  params.context = { diagnostics = vim.lsp.diagnostic.get_line_diagnostics(bufnr, diagnostic.lnum) }
  local results, err = vim.lsp.buf_request_sync(bufnr, 'textDocument/codeAction', params, timeout)
  if not results then
    error('textDocument/codeAction: ' .. tostring(err), 0)
  end
  local response = results[client.id]
  if not response then
    error('no textDocument/codeAction answer from dockpin', 0)
  end
  if response.err then
    error('textDocument/codeAction failed: ' .. vim.inspect(response.err), 0)
  end
  local action
  status.titles = {}
  for _, candidate in ipairs(response.result or {}) do
    table.insert(status.titles, candidate.title)
    if not action and vim.startswith(candidate.title, 'Pin python:3.12') then
      action = candidate
    end
  end
  if not action then
    error('no "Pin python:3.12" action among ' .. vim.inspect(status.titles), 0)
  end
  status.title = action.title

  -- As vim.lsp.buf.code_action does: resolve an action that has no edit when
  -- the server can, then apply the edit, then run the command.
  status.via = 'inline'
  if not action.edit and status.resolve_provider then
    local resolved, resolve_err = client.request_sync('codeAction/resolve', action, timeout, bufnr)
    if not resolved then
      error('codeAction/resolve: ' .. tostring(resolve_err), 0)
    end
    if resolved.err then
      error('codeAction/resolve failed: ' .. vim.inspect(resolved.err), 0)
    end
    action = resolved.result
    status.via = 'codeAction/resolve'
  end
  if action.edit then
    status.edit_shape = action.edit.documentChanges and 'documentChanges' or 'changes'
    vim.lsp.util.apply_workspace_edit(action.edit, client.offset_encoding)
  end
  if action.command then
    local command = type(action.command) == 'table' and action.command or action
    local done, command_err = client.request_sync('workspace/executeCommand', {
      command = command.command,
      arguments = command.arguments,
    }, timeout, bufnr)
    if not done or done.err then
      error('workspace/executeCommand failed: ' .. vim.inspect(done and done.err or command_err), 0)
    end
    status.command = command.command
  end
  if not action.edit and not action.command then
    error('the action has neither an edit nor a command: ' .. vim.inspect(action), 0)
  end
  status.line = vim.api.nvim_buf_get_lines(bufnr, diagnostic.lnum, diagnostic.lnum + 1, true)[1]
  vim.cmd('write')

  -- The applied edit reached the server (incremental didChange): DP003 goes.
  wait_for('DP003 to go after the pin', function()
    return #dp003_lines() == 0
  end)
  status.after = summary()
end

-- The "sync" scenario: buffer edits outside LSP reach the server as
-- incremental changes and the diagnostics follow the text.
local function sync()
  local digest = assert(os.getenv('DOCKPIN_NVIM_DIGEST'), 'DOCKPIN_NVIM_DIGEST is not set')
  local client = wait_attached()
  local sync_option = client.server_capabilities.textDocumentSync
  status.sync_kind = type(sync_option) == 'table' and sync_option.change or sync_option
  wait_for('DP003 on line 0', function()
    return same(dp003_lines(), { 0 })
  end)
  status.before = summary()

  -- What :%s/python:3.12$/python:3.12@sha256:.../ does to the buffer.
  local pinned = 'FROM python:3.12@' .. digest
  vim.api.nvim_buf_set_lines(bufnr, 0, 1, true, { pinned })
  wait_for('DP003 to go once pinned by hand', function()
    return #dp003_lines() == 0
  end)
  status.pinned = summary()

  -- A new unpinned stage below it: DP003 must land on that line and columns.
  vim.api.nvim_buf_set_lines(bufnr, 1, 1, true, { 'FROM  python:3.12 AS second' })
  wait_for('DP003 on the inserted line 1', function()
    return same(dp003_lines(), { 1 })
  end)
  status.inserted = summary()

  -- Cut the digest out of line 0 mid-line (a partial-line change).
  local at = #'FROM python:3.12'
  vim.api.nvim_buf_set_text(bufnr, 0, at, 0, #pinned, {})
  wait_for('DP003 back on line 0 and still on line 1', function()
    return same(dp003_lines(), { 0, 1 })
  end)
  status.unpinned = summary()
  status.lines = vim.api.nvim_buf_get_lines(bufnr, 0, -1, true)
  vim.cmd('write')
end

-- The "lens" scenario: the code lens above the first FROM runs dockpin.pinAll
-- (workspace/executeCommand), and the server edits through workspace/applyEdit.
local function lens()
  wait_attached()
  wait_for('DP003 on both FROM lines', function()
    return #dp003_lines() == 2
  end)
  vim.lsp.codelens.refresh()
  wait_for('a code lens', function()
    return #vim.lsp.codelens.get(bufnr) > 0
  end)
  local first = vim.lsp.codelens.get(bufnr)[1]
  status.title = first.command and first.command.title
  vim.api.nvim_win_set_cursor(0, { first.range.start.line + 1, 0 })
  vim.lsp.codelens.run()
  wait_for('every FROM to be pinned by workspace/applyEdit', function()
    for _, line in ipairs(vim.api.nvim_buf_get_lines(bufnr, 0, -1, true)) do
      if vim.startswith(line, 'FROM ') and not line:find('@sha256:', 1, true) then
        return false
      end
    end
    return true
  end)
  status.lines = vim.api.nvim_buf_get_lines(bufnr, 0, -1, true)
  vim.cmd('write')
end

-- The "attached" scenario: an init file (the docs' snippet) started the client.
local function attached()
  local client = wait_attached()
  status.cmd = client.config.cmd
  status.init_options = client.config.init_options
  -- DOCKPIN_NVIM_SEVERITY: the severity DP003 must reach (the settings applied).
  local severity = tonumber(os.getenv('DOCKPIN_NVIM_SEVERITY') or '')
  wait_for('the DP003 diagnostic' .. (severity and (' with severity ' .. severity) or ''), function()
    local d = first_dp003()
    return d ~= nil and (severity == nil or d.severity == severity)
  end)
  status.before = summary()
end

local scenarios = { pin = pin, sync = sync, lens = lens, attached = attached }

local ok, problem = pcall(function()
  local run = scenarios[scenario]
  if not run then
    error('unknown DOCKPIN_NVIM_SCENARIO ' .. scenario, 0)
  end
  if scenario ~= 'attached' then
    vim.lsp.set_log_level('debug') -- the whole exchange, in lsp.log under XDG_CACHE_HOME
    start()
  end
  run()
end)
if not ok then
  status.diagnostics = summary()
  fail(tostring(problem))
else
  status.ok = true
  emit()
  vim.cmd('qall!')
end
