console.log('orun: not yet implemented');
