console.log('orunctl: not yet implemented');
