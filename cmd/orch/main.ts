console.log('orch: not yet implemented');
